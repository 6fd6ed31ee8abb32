package catalog_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/internal/apperr"
	"tenantry/internal/catalog"
	"tenantry/schemas"
)

const validManifest = `{
  "name": "wiki",
  "description": "A wiki.",
  "currency": "EUR",
  "current_version": "1.0.0",
  "versions": [
    {"version": "1.0.0", "schema_version": 1},
    {"version": "1.1.0", "schema_version": 2}
  ],
  "modules": [
    {"name": "core", "required": true, "hourly_price_minor": 3, "description": "Pages."},
    {"name": "history", "hourly_price_minor": 1, "description": "Page history."},
    {"name": "search", "hourly_price_minor": 2, "description": "Search."}
  ]
}`

// wiki returns a valid one-service catalog folder; edit changes it before
// it is loaded.
func wiki(edit func(fs fstest.MapFS)) fstest.MapFS {
	fs := fstest.MapFS{
		"wiki/manifest.json":                      {Data: []byte(validManifest)},
		"wiki/seed.sql":                           {Data: []byte("SELECT 1;")},
		"wiki/migrations/000001_init.up.sql":      {Data: []byte("CREATE TABLE pages (id int);")},
		"wiki/migrations/000001_init.down.sql":    {Data: []byte("DROP TABLE pages;")},
		"wiki/migrations/000002_history.up.sql":   {Data: []byte("CREATE TABLE revisions (id int);")},
		"wiki/migrations/000002_history.down.sql": {Data: []byte("DROP TABLE revisions;")},
	}
	if edit != nil {
		edit(fs)
	}
	return fs
}

// manifest replaces each old text of the valid manifest by its new text.
func manifest(oldNew ...string) func(fstest.MapFS) {
	return func(fs fstest.MapFS) {
		m := strings.NewReplacer(oldNew...).Replace(validManifest)
		fs["wiki/manifest.json"] = &fstest.MapFile{Data: []byte(m)}
	}
}

func TestLoadValid(t *testing.T) {
	cat, err := catalog.Load(wiki(nil))
	require.NoError(t, err)
	assert.Equal(t, []string{"wiki"}, cat.Names())
	s, err := cat.Service("wiki")
	require.NoError(t, err)
	assert.Equal(t, "SELECT 1;", s.Seed)
	v, err := s.Version("1.1.0")
	require.NoError(t, err)
	assert.Equal(t, uint(2), v.SchemaVersion)
}

func TestLoadRejectsMalformedServices(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(fstest.MapFS)
		want string
	}{
		{"unknown field", manifest(`"currency"`, `"colour": "blue", "currency"`), "unknown field"},
		{"not JSON", manifest(`{`, `{{`), "manifest.json"},
		{"name differs from folder", manifest(`"name": "wiki"`, `"name": "wikis"`), "must match its folder"},
		{"missing down migration", func(fs fstest.MapFS) { delete(fs, "wiki/migrations/000002_history.down.sql") }, "no down file"},
		{"missing up migration", func(fs fstest.MapFS) { delete(fs, "wiki/migrations/000001_init.up.sql") }, "up"},
		{"gap in migrations", func(fs fstest.MapFS) {
			fs["wiki/migrations/000004_gap.up.sql"] = &fstest.MapFile{Data: []byte("SELECT 1;")}
			fs["wiki/migrations/000004_gap.down.sql"] = &fstest.MapFile{Data: []byte("SELECT 1;")}
		}, "migrations"},
		{"two migrations with one number", func(fs fstest.MapFS) {
			fs["wiki/migrations/000002_tags.up.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE tags (id int);")}
			fs["wiki/migrations/000002_tags.down.sql"] = &fstest.MapFile{Data: []byte("DROP TABLE tags;")}
		}, "two up files for version 2"},
		{"stray migration file", func(fs fstest.MapFS) {
			fs["wiki/migrations/notes.txt"] = &fstest.MapFile{Data: []byte("hi")}
		}, "unexpected file"},
		{"no migrations", func(fs fstest.MapFS) {
			for name := range fs {
				if strings.HasPrefix(name, "wiki/migrations/") {
					delete(fs, name)
				}
			}
		}, "migrations"},
		{"current_version not listed", manifest(`"current_version": "1.0.0"`, `"current_version": "2.0.0"`), "current_version"},
		{"schema_version without migration", manifest(`"schema_version": 2`, `"schema_version": 3`), "schema_version"},
		{"schema_version zero", manifest(`"schema_version": 1`, `"schema_version": 0`), "schema_version"},
		{"schema_versions descending", manifest(`"schema_version": 1`, `"schema_version": 2`, `"schema_version": 2`, `"schema_version": 1`), "ascending"},
		{"duplicate version", manifest(`"1.1.0"`, `"1.0.0"`), "unique"},
		{"bad version", manifest(`"1.1.0"`, `"1.1"`), "MAJOR.MINOR.PATCH"},
		{"bad module name", manifest(`"name": "history"`, `"name": "History"`), "module"},
		{"module name with SQL", manifest(`"name": "history"`, `"name": "x'; DROP TABLE y;--"`), "module"},
		{"duplicate module", manifest(`"name": "history"`, `"name": "search"`), "module"},
		{"negative price", manifest(`"hourly_price_minor": 1`, `"hourly_price_minor": -1`), "price"},
		{"empty module description", manifest(`"description": "Search."`, `"description": " "`), "description"},
		{"bad currency", manifest(`"EUR"`, `"euro"`), "currency"},
		{"empty description", manifest(`"A wiki."`, `""`), "description"},
		{"no modules", func(fs fstest.MapFS) {
			head, _, _ := strings.Cut(validManifest, `"modules"`)
			fs["wiki/manifest.json"] = &fstest.MapFile{Data: []byte(head + `"modules": []}`)}
		}, "no modules"},
		{"permission of another service", manifest(`"currency"`, `"permissions": [{"name": "forum.addUsers", "description": "x"}], "currency"`), "wiki.<action>"},
		{"malformed permission", manifest(`"currency"`, `"permissions": [{"name": "wiki.*", "description": "x"}], "currency"`), "permission"},
		{"duplicate permission", manifest(`"currency"`, `"permissions": [{"name": "wiki.edit", "description": "x"}, {"name": "wiki.edit", "description": "y"}], "currency"`), "unique"},
		{"permission without description", manifest(`"currency"`, `"permissions": [{"name": "wiki.edit", "description": ""}], "currency"`), "description"},
		{"empty seed", func(fs fstest.MapFS) { fs["wiki/seed.sql"] = &fstest.MapFile{Data: []byte(" \n")} }, "seed"},
		{"no seed", func(fs fstest.MapFS) { delete(fs, "wiki/seed.sql") }, "seed.sql"},
		{"no manifest", func(fs fstest.MapFS) { delete(fs, "wiki/manifest.json") }, "manifest.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := catalog.Load(wiki(tc.edit))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestLoadRejectsEmptyCatalog(t *testing.T) {
	_, err := catalog.Load(fstest.MapFS{"README": {Data: []byte("no services")}})
	assert.ErrorContains(t, err, "no services")
}

func TestRealCatalog(t *testing.T) {
	cat, err := catalog.Load(schemas.Services())
	require.NoError(t, err)
	assert.Equal(t, []string{"forum", "store"}, cat.Names())
	for _, name := range cat.Names() {
		t.Run(name, func(t *testing.T) {
			s, err := cat.Service(name)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, len(s.Modules), 3)
			assert.GreaterOrEqual(t, len(s.Versions), 2)
			_, err = s.Version(s.CurrentVersion)
			assert.NoError(t, err)
			core, ok := s.Module("core")
			assert.True(t, ok && core.Required, "every service has a required core module")
		})
	}
}

func TestUnknownServiceAndVersion(t *testing.T) {
	cat, err := catalog.Load(schemas.Services())
	require.NoError(t, err)
	_, err = cat.Service("blog'; DROP TABLE services;--")
	assert.Equal(t, apperr.KindInvalid, apperr.KindOf(err))
	s, _ := cat.Service("forum")
	_, err = s.Version("9.9.9")
	assert.Equal(t, apperr.KindInvalid, apperr.KindOf(err))
}

func TestResolveModules(t *testing.T) {
	cat, err := catalog.Load(wiki(nil))
	require.NoError(t, err)
	s, _ := cat.Service("wiki")
	for _, tc := range []struct {
		name   string
		chosen []string
		want   []string
	}{
		{"nothing chosen adds required", nil, []string{"core"}},
		{"required added", []string{"search"}, []string{"core", "search"}},
		{"manifest order, no duplicates", []string{"search", "history", "search", "core"}, []string{"core", "history", "search"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ResolveModules("1.1.0", tc.chosen)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	_, err = s.ResolveModules("1.1.0", []string{"search", "payments"})
	assert.Equal(t, apperr.KindInvalid, apperr.KindOf(err))
	assert.ErrorContains(t, err, `"payments"`)
}

func TestJobs(t *testing.T) {
	jobs := manifest(`"currency"`, `"jobs": [
		{"name": "reindex", "title": "Reindex", "description": "Rebuild the index."},
		{"name": "compact_history", "title": "Compact", "description": "Merge old revisions.", "since": "1.1.0"}], "currency"`)
	cat, err := catalog.Load(wiki(jobs))
	require.NoError(t, err)
	s, err := cat.Service("wiki")
	require.NoError(t, err)
	names := func(js []catalog.Job) (out []string) {
		for _, j := range js {
			out = append(out, j.Name)
		}
		return out
	}
	assert.Equal(t, []string{"reindex"}, names(s.JobsAt("1.0.0")))
	assert.Equal(t, []string{"reindex", "compact_history"}, names(s.JobsAt("1.1.0")))
	j, err := s.Job("compact_history", "1.1.0")
	require.NoError(t, err)
	assert.Equal(t, "Compact", j.Title)
	_, err = s.Job("compact_history", "1.0.0")
	assert.Equal(t, apperr.KindInvalid, apperr.KindOf(err))
	assert.ErrorContains(t, err, "comes with 1.1.0")
	_, err = s.Job("vacuum", "1.1.0")
	assert.ErrorContains(t, err, "offered: reindex, compact_history")

	for _, tc := range []struct{ name, jobs, want string }{
		{"bad name", `[{"name": "Re Index", "title": "x", "description": "x"}]`, "lower-case"},
		{"duplicate", `[{"name": "a_job", "title": "x", "description": "x"}, {"name": "a_job", "title": "y", "description": "y"}]`, "unique"},
		{"no title", `[{"name": "a_job", "title": " ", "description": "x"}]`, "title"},
		{"no description", `[{"name": "a_job", "title": "x", "description": ""}]`, "description"},
		{"since unknown version", `[{"name": "a_job", "title": "x", "description": "x", "since": "2.0.0"}]`, "since"},
		{"unknown field", `[{"name": "a_job", "title": "x", "description": "x", "schedule": "daily"}]`, "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := catalog.Load(wiki(manifest(`"currency"`, `"jobs": `+tc.jobs+`, "currency"`)))
			assert.ErrorContains(t, err, tc.want)
		})
	}
}
