// Package schemas embeds the control database migrations and the service
// catalog (each service's manifest, tenant migrations and seed).
package schemas

import (
	"embed"
	"io/fs"
)

//go:embed control/*.sql
var control embed.FS

//go:embed services
var services embed.FS

// Control holds the control database's golang-migrate files at its root.
func Control() fs.FS {
	sub, _ := fs.Sub(control, "control")
	return sub
}

// Services holds one folder per offered service.
func Services() fs.FS {
	sub, _ := fs.Sub(services, "services")
	return sub
}
