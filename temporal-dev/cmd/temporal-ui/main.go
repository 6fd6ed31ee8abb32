// Command temporal-ui serves the Temporal Web UI (the same ui-server library
// and embedded assets the CLI's dev server uses) in front of any Temporal
// frontend, such as the PostgreSQL-backed cluster that `tenantry dev` starts
// with TENANTRY_TEMPORAL=cluster. Nothing is downloaded: the assets are in
// the ui-server module.
//
//	go tool temporal-ui --address 127.0.0.1:7233 --port 8233
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
)

func main() {
	address := flag.String("address", "127.0.0.1:7233", "the Temporal frontend's gRPC host:port")
	ip := flag.String("ip", "127.0.0.1", "address the UI listens on")
	port := flag.Int("port", 8233, "port the UI listens on")
	namespace := flag.String("namespace", "default", "namespace the UI opens")
	flag.Parse()
	ui := uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
		Host:                *ip,
		Port:                *port,
		TemporalGRPCAddress: *address,
		EnableUI:            true,
		DefaultNamespace:    *namespace,
		CORS:                uiconfig.CORS{CookieInsecure: true},
		HideLogs:            true,
	}))
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-stop
		ui.Stop()
	}()
	if err := ui.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "temporal-ui:", err)
		os.Exit(1)
	}
}
