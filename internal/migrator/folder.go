package migrator

import (
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/golang-migrate/migrate/v4/source"
)

// NoTransaction, as a file's first line, marks a migration that cannot run
// inside one transaction: PostgreSQL refuses CREATE INDEX CONCURRENTLY in
// one. Such a file runs one statement at a time and is recorded as applied
// only after its last statement, so a crash in it leaves its version
// unrecorded and the whole file runs again. Running again must therefore be
// safe, and the rule makes it so: the file holds only concurrent index
// statements, and every CREATE INDEX CONCURRENTLY is preceded by DROP
// INDEX CONCURRENTLY IF EXISTS of the same index (an interrupted build
// leaves an invalid index of that name behind, which IF NOT EXISTS would
// keep). Its statements are separated by semicolons, none inside one.
const NoTransaction = "-- tenantry:no-transaction"

// folder is a checked migration folder.
type folder struct {
	// versions are the versions with an up file, ascending.
	versions []uint
	// noTx are the files marked NoTransaction, by name.
	noTx map[string]bool
}

var (
	dropIndex   = regexp.MustCompile(`(?is)^DROP\s+INDEX\s+CONCURRENTLY\s+IF\s+EXISTS\s+([\w."]+)$`)
	createIndex = regexp.MustCompile(`(?is)^CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?([\w."]+)\s+ON\s+.+$`)
	// outsideTransaction is what PostgreSQL runs only outside a
	// transaction block (REFRESH MATERIALIZED VIEW CONCURRENTLY runs in one).
	outsideTransaction = regexp.MustCompile(`(?is)\bINDEX\s+CONCURRENTLY\b|\bREINDEX\b[^;]*\bCONCURRENTLY\b|\bDETACH\s+PARTITION\b[^;]*\bCONCURRENTLY\b`)
)

// Check reads a migration folder and reports every file that breaks its
// rules: names NNN_name.up.sql and NNN_name.down.sql, both files for every
// version (a rollback needs the down file, and the ledger forgets a
// version only there), and the NoTransaction rule.
func Check(src fs.FS) error {
	_, err := Versions(src)
	return err
}

// Versions checks a migration folder (Check) and lists its versions,
// ascending.
func Versions(src fs.FS) ([]uint, error) {
	f, err := readFolder(src)
	return f.versions, err
}

func readFolder(src fs.FS) (folder, error) {
	entries, err := fs.ReadDir(src, ".")
	if err != nil {
		return folder{}, err
	}
	f := folder{noTx: map[string]bool{}}
	up, down := map[uint]string{}, map[uint]string{}
	var problems []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m, err := source.Parse(e.Name())
		if err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			problems = append(problems, e.Name()+": unexpected file (want NNN_name.up.sql and NNN_name.down.sql)")
			continue
		}
		seen := up
		if m.Direction == source.Down {
			seen = down
		}
		if other, dup := seen[m.Version]; dup {
			problems = append(problems, fmt.Sprintf("%s and %s: two %s files for version %d", other, e.Name(), m.Direction, m.Version))
		}
		seen[m.Version] = e.Name()
		body, err := fs.ReadFile(src, e.Name())
		if err != nil {
			return folder{}, err
		}
		noTx, err := checkBody(string(body))
		if err != nil {
			problems = append(problems, e.Name()+": "+err.Error())
		}
		f.noTx[e.Name()] = noTx
	}
	for v, name := range up {
		if _, ok := down[v]; !ok {
			problems = append(problems, name+": no down file")
		}
		f.versions = append(f.versions, v)
	}
	for v, name := range down {
		if _, ok := up[v]; !ok {
			problems = append(problems, name+": no up file")
		}
	}
	slices.Sort(f.versions)
	if len(problems) > 0 {
		slices.Sort(problems)
		return folder{}, &RuleError{Problems: problems}
	}
	return f, nil
}

// checkBody says whether a file is marked NoTransaction and whether it
// keeps the rule that goes with the mark.
func checkBody(body string) (noTx bool, err error) {
	noTx = strings.HasPrefix(body, NoTransaction+"\n") || strings.TrimSpace(body) == NoTransaction
	if !noTx {
		if m := outsideTransaction.FindString(stripComments(body)); m != "" {
			return false, fmt.Errorf("%s cannot run inside the file's transaction: make the file's first line %q and follow its rule", strings.Join(strings.Fields(m), " "), NoTransaction)
		}
		return false, nil
	}
	dropped := map[string]bool{}
	for _, st := range statements(body) {
		if m := dropIndex.FindStringSubmatch(st.text); m != nil {
			dropped[m[1]] = true
			continue
		}
		m := createIndex.FindStringSubmatch(st.text)
		if m == nil {
			return true, fmt.Errorf("line %d: a %s file holds only DROP INDEX CONCURRENTLY IF EXISTS and CREATE INDEX CONCURRENTLY statements", st.line, NoTransaction)
		}
		if !dropped[m[1]] {
			return true, fmt.Errorf("line %d: CREATE INDEX CONCURRENTLY %s needs DROP INDEX CONCURRENTLY IF EXISTS %s before it (a crashed build leaves an invalid index of that name)", st.line, m[1], m[1])
		}
	}
	return true, nil
}

// statement is one statement of a file and the line it starts on.
type statement struct {
	text string
	line int
}

// statements splits a file at its semicolons, leaving out comments and
// empty statements.
func statements(body string) []statement {
	var out []statement
	line := 1
	for _, part := range strings.Split(stripComments(body), ";") {
		if text := strings.TrimSpace(part); text != "" {
			lead := part[:len(part)-len(strings.TrimLeftFunc(part, unicode.IsSpace))]
			out = append(out, statement{text: text, line: line + strings.Count(lead, "\n")})
		}
		line += strings.Count(part, "\n")
	}
	return out
}

// stripComments blanks every -- comment, keeping the lines where they are.
func stripComments(body string) string {
	var b strings.Builder
	for l := range strings.SplitAfterSeq(body, "\n") {
		if i := strings.Index(l, "--"); i >= 0 {
			l = l[:i] + "\n"
		}
		b.WriteString(l)
	}
	return b.String()
}

// before is the version applied before v, or nilVersion for the first.
func (f folder) before(v uint) int {
	i, _ := slices.BinarySearch(f.versions, v)
	if i == 0 {
		return nilVersion
	}
	return int(f.versions[i-1])
}
