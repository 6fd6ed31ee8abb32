package billingtest

import (
	"encoding/json"
	"io/fs"
	"path"
	"testing/fstest"

	"tenantry/internal/catalog"
	"tenantry/schemas"
)

// Prices loads the real catalog with one module's base price and schedule
// replaced, as if its manifest had been edited, so tests change prices
// without touching the shipped manifests.
func Prices(service, module string, base int64, changes ...catalog.PriceChange) (*catalog.Catalog, error) {
	files := fstest.MapFS{}
	root := schemas.Services()
	err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(root, p)
		files[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		return nil, err
	}
	name := path.Join(service, "manifest.json")
	var m map[string]any
	if err := json.Unmarshal(files[name].Data, &m); err != nil {
		return nil, err
	}
	for _, raw := range m["modules"].([]any) {
		mod := raw.(map[string]any)
		if mod["name"] == module {
			mod["hourly_price_minor"] = base
			mod["price_changes"] = changes
		}
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	files[name] = &fstest.MapFile{Data: data}
	return catalog.Load(files)
}
