package migrator_test

import (
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"tenantry/internal/migrator"
	"tenantry/schemas"
)

func TestTheControlFolderKeepsTheRules(t *testing.T) {
	require.NoError(t, migrator.Check(schemas.Control()))
}

func TestCheckNamesEveryFileThatBreaksARule(t *testing.T) {
	noTx := migrator.NoTransaction + "\n"
	for _, tc := range []struct {
		name  string
		edit  func(fstest.MapFS)
		wants []string
	}{
		{"a version without its down file", func(f fstest.MapFS) { delete(f, "2_second.down.sql") },
			[]string{"2_second.up.sql: no down file"}},
		{"a down file without its up file", func(f fstest.MapFS) { delete(f, "5_fifth.up.sql") },
			[]string{"5_fifth.down.sql: no up file"}},
		{"a stray file", func(f fstest.MapFS) { f["notes.txt"] = &fstest.MapFile{Data: []byte("hi")} },
			[]string{"notes.txt: unexpected file"}},
		{"two files of a version", func(f fstest.MapFS) {
			f["2_other.up.sql"] = &fstest.MapFile{Data: []byte("SELECT 1;")}
			f["2_other.down.sql"] = &fstest.MapFile{Data: []byte("SELECT 1;")}
		}, []string{"two up files for version 2", "two down files for version 2"}},
		{"a concurrent build inside a transaction", func(f fstest.MapFS) {
			f["6_index.up.sql"] = &fstest.MapFile{Data: []byte("CREATE INDEX CONCURRENTLY i ON second (id);")}
			f["6_index.down.sql"] = &fstest.MapFile{Data: []byte("DROP INDEX i;")}
		}, []string{"6_index.up.sql: INDEX CONCURRENTLY cannot run inside the file's transaction"}},
		{"a concurrent reindex inside a transaction", func(f fstest.MapFS) {
			f["6_index.up.sql"] = &fstest.MapFile{Data: []byte("REINDEX TABLE\n  CONCURRENTLY second;")}
			f["6_index.down.sql"] = &fstest.MapFile{Data: []byte("SELECT 1;")}
		}, []string{"6_index.up.sql: REINDEX TABLE CONCURRENTLY cannot run inside the file's transaction"}},
		{"another statement in a NoTransaction file", func(f fstest.MapFS) {
			f["6_index.up.sql"] = &fstest.MapFile{Data: []byte(noTx + "DROP INDEX CONCURRENTLY IF EXISTS i;\nCREATE INDEX CONCURRENTLY i ON second (id);\n\nALTER TABLE second ADD COLUMN x int;")}
			f["6_index.down.sql"] = &fstest.MapFile{Data: []byte(noTx + "DROP INDEX CONCURRENTLY IF EXISTS i;")}
		}, []string{"6_index.up.sql: line 5: a " + migrator.NoTransaction + " file holds only"}},
		{"a concurrent build not dropped first", func(f fstest.MapFS) {
			f["6_index.up.sql"] = &fstest.MapFile{Data: []byte(noTx + "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON second (id);")}
			f["6_index.down.sql"] = &fstest.MapFile{Data: []byte(noTx + "DROP INDEX CONCURRENTLY IF EXISTS i;")}
		}, []string{"6_index.up.sql: line 2: CREATE INDEX CONCURRENTLY i needs DROP INDEX CONCURRENTLY IF EXISTS i before it"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := ledgered()
			tc.edit(f)
			err := migrator.Check(f)
			require.Error(t, err)
			for _, want := range tc.wants {
				require.ErrorContains(t, err, want)
			}
		})
	}
	require.NoError(t, migrator.Check(ledgered()))
	// What runs in a transaction block passes, also in a comment.
	f := ledgered()
	f["6_view.up.sql"] = &fstest.MapFile{Data: []byte("-- not CREATE INDEX CONCURRENTLY\nREFRESH MATERIALIZED VIEW CONCURRENTLY totals;")}
	f["6_view.down.sql"] = &fstest.MapFile{Data: []byte("SELECT 1;")}
	require.NoError(t, migrator.Check(f))
}
