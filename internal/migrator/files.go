package migrator

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"strings"

	"github.com/golang-migrate/migrate/v4/database"
	"github.com/golang-migrate/migrate/v4/source"
)

// bookkept serves a migration folder to golang-migrate with every file
// tagged with its name (first line) and ended by its bookkeeping, so the
// file's record in the ledger and its clean mark commit with it.
type bookkept struct {
	fs.FS
	first uint // the folder's first version
}

// fileTag starts the first line of every file golang-migrate runs, naming
// the file for runner's errors.
const fileTag = "-- tenantry:file "

func (b bookkept) Open(name string) (fs.File, error) {
	f, err := b.FS.Open(name)
	if err != nil || !strings.HasSuffix(name, ".sql") {
		return f, err
	}
	defer f.Close()
	m, err := source.Parse(name)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString(fileTag + name + "\n")
	buf.Write(body)
	buf.WriteString(bookkeepingStart + bookkeeping(m.Version, m.Direction == source.Up, m.Version == b.first))
	return &memFile{Reader: bytes.NewReader(buf.Bytes()), info: st}, nil
}

// ReadDir keeps iofs's listing of the folder.
func (b bookkept) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(b.FS, name) }

type memFile struct {
	*bytes.Reader
	info fs.FileInfo
}

func (m *memFile) Stat() (fs.FileInfo, error) { return m.info, nil }
func (m *memFile) Close() error               { return nil }

// bookkeepingStart separates a file from its bookkeeping (ending a last
// statement left without its semicolon).
const bookkeepingStart = "\n;\n"

// runner is golang-migrate's PostgreSQL driver running files its way: a
// file as one implicit transaction (the simple protocol runs a string of
// statements as one), a NoTransaction file one statement at a time, and
// errors that name the file and line instead of quoting the whole file.
type runner struct {
	database.Driver
	database string
	noTx     map[string]bool
}

func (r *runner) Run(migration io.Reader) error {
	raw, err := io.ReadAll(migration)
	if err != nil {
		return err
	}
	tag, body, _ := strings.Cut(string(raw), "\n")
	name := strings.TrimPrefix(tag, fileTag)
	original := body
	if i := strings.LastIndex(body, bookkeepingStart); i >= 0 {
		original = body[:i]
	}
	lines := strings.Count(strings.TrimRight(original, "\n"), "\n") + 1
	fail := func(offset int, err error) error {
		e := &Error{Database: r.database, File: name, Err: err}
		var dbErr database.Error
		if errors.As(err, &dbErr) && dbErr.OrigErr != nil {
			e.Err = dbErr.OrigErr // which unwraps, unlike database.Error
		}
		if dbErr.Line > 0 {
			// Lines of the statement golang-migrate ran, which began with
			// the tag line unless it is one statement of a NoTransaction
			// file; one past the file is its bookkeeping.
			e.Line = offset + int(dbErr.Line) - 1
			if e.Line > lines {
				e.Line = 0
			}
		}
		return e
	}
	if !r.noTx[name] {
		if err := r.Driver.Run(strings.NewReader(string(raw))); err != nil {
			return fail(0, err)
		}
		return nil
	}
	for _, st := range statements(body) {
		if err := r.Driver.Run(strings.NewReader(st.text)); err != nil {
			return fail(st.line, err)
		}
	}
	return nil
}
