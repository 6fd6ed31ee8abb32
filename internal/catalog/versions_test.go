package catalog_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/internal/apperr"
	"tenantry/internal/catalog"
	"tenantry/schemas"
)

// retiring gives the wiki a 1.2.0 that no longer offers history.
var retiring = manifest(`{"version": "1.1.0", "schema_version": 2}`,
	`{"version": "1.1.0", "schema_version": 2}, {"version": "1.2.0", "schema_version": 2, "modules": ["core", "search"]}`)

func TestVersionModulesAreChecked(t *testing.T) {
	_, err := catalog.Load(wiki(retiring))
	require.NoError(t, err)
	for _, tc := range []struct {
		name, modules, want string
	}{
		{"unknown module", `["core", "payments"]`, `"payments" is unknown`},
		{"listed twice", `["core", "search", "search"]`, `"search" is unknown or listed twice`},
		{"required module missing", `["search"]`, `required module "core" must be offered`},
		{"empty list", `[]`, "modules is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := catalog.Load(wiki(manifest(`{"version": "1.1.0", "schema_version": 2}`,
				`{"version": "1.1.0", "schema_version": 2, "modules": `+tc.modules+`}`)))
			require.Error(t, err)
			assert.ErrorContains(t, err, tc.want)
		})
	}
	_, err = catalog.Load(wiki(manifest(`{"version": "1.1.0", "schema_version": 2}`, `{"version": "0.9.0", "schema_version": 2}`)))
	assert.ErrorContains(t, err, "oldest first")
}

func TestOfferedAndDroppedModules(t *testing.T) {
	cat, err := catalog.Load(wiki(retiring))
	require.NoError(t, err)
	s, _ := cat.Service("wiki")

	all, err := s.OfferedModules("1.1.0")
	require.NoError(t, err)
	assert.Equal(t, []string{"core", "history", "search"}, all, "no list offers every module")
	some, err := s.OfferedModules("1.2.0")
	require.NoError(t, err)
	assert.Equal(t, []string{"core", "search"}, some)
	_, err = s.OfferedModules("2.0.0")
	assert.Equal(t, apperr.KindInvalid, apperr.KindOf(err))

	dropped, err := s.DroppedModules([]string{"core", "history", "search"}, "1.2.0")
	require.NoError(t, err)
	assert.Equal(t, []string{"history"}, dropped)
	dropped, err = s.DroppedModules([]string{"core", "search"}, "1.2.0")
	require.NoError(t, err)
	assert.Empty(t, dropped)

	// A version refuses what it does not offer, naming the version.
	_, err = s.ResolveModules("1.2.0", []string{"history"})
	assert.Equal(t, apperr.KindInvalid, apperr.KindOf(err))
	assert.ErrorContains(t, err, `wiki 1.2.0 does not offer the module "history"`)
	got, err := s.ResolveModules("1.1.0", []string{"history"})
	require.NoError(t, err)
	assert.Equal(t, []string{"core", "history"}, got)
}

func TestCompareVersions(t *testing.T) {
	assert.Equal(t, -1, catalog.CompareVersions("1.9.0", "1.10.0"), "numbers, not text")
	assert.Equal(t, 1, catalog.CompareVersions("2.0.0", "1.99.99"))
	assert.Equal(t, 0, catalog.CompareVersions("1.2.3", "1.2.3"))
}

func TestForumRetiresAttachments(t *testing.T) {
	cat, err := catalog.Load(schemas.Services())
	require.NoError(t, err)
	s, _ := cat.Service("forum")
	dropped, err := s.DroppedModules([]string{"core", "search", "attachments"}, "1.2.0")
	require.NoError(t, err)
	assert.Equal(t, []string{"attachments"}, dropped)
	v, _ := s.Version("1.2.0")
	assert.Equal(t, uint(3), v.SchemaVersion)
}
