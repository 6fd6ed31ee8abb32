package tenant_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/internal/validate"
	"tenantry/web/tenant"
)

// TestEveryLanguageHasEveryString: every language setup accepts has a
// string of its own for every key, none left to the English fallback.
func TestEveryLanguageHasEveryString(t *testing.T) {
	en := tenant.PageStrings["en"]
	require.NotEmpty(t, en)
	for _, lang := range validate.Languages {
		strs, ok := tenant.PageStrings[lang]
		require.True(t, ok, "no strings for %q, which setup accepts", lang)
		for key := range en {
			assert.NotEmpty(t, strs[key], "%s has no %q", lang, key)
		}
		for key := range strs {
			assert.Contains(t, en, key, "%s has %q, which English lacks", lang, key)
		}
	}
	for lang := range tenant.PageStrings {
		assert.True(t, slices.Contains(validate.Languages, lang), "%q has strings but setup refuses it", lang)
	}
	assert.Equal(t, "Se connecter", tenant.T("fr", "login"))
	assert.Equal(t, "Iniciar sesión", tenant.T("es", "login"))
}
