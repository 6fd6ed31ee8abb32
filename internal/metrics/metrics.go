// Package metrics is Tenantry's Prometheus metrics for operators: one
// registry per process holding the Go runtime's, the Temporal SDK's
// (through OpenTelemetry's Prometheus exporter: go.temporal.io/sdk/contrib/
// opentelemetry), HTTP requests per route and status, and the product's own
// (enable-to-ready duration, invoices closed, router requests per instance
// and its host cache). Handler serves them on the admin listener.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
)

// Registry holds every metric of this process.
var Registry = prometheus.NewRegistry()

var (
	// EnableToReady is how long an instance took from its enable request
	// to ready.
	EnableToReady = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "tenantry_enable_to_ready_seconds", Help: "Time from an enable request to the instance being ready.",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60, 300},
	})
	// InvoicesClosed counts invoices this process's closes wrote.
	InvoicesClosed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tenantry_invoices_closed_total", Help: "Invoices written by billing closes.",
	})
	// RouterRequests counts tenant requests routed, per instance and
	// status.
	RouterRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantry_router_requests_total", Help: "Tenant requests the host router answered, per instance and status.",
	}, []string{"instance", "status"})
	// RouterCache counts host lookups: hit, miss (read from the control
	// database) or stale (served from cache while the control database is
	// away).
	RouterCache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantry_router_host_lookups_total", Help: "Host router host lookups by result: hit, miss or stale.",
	}, []string{"result"})
	httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantry_http_requests_total", Help: "Console and API requests per route, method and status.",
	}, []string{"route", "method", "status"})
	httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tenantry_http_request_duration_seconds", Help: "Console and API request durations per route.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route", "method"})
)

func init() {
	Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		EnableToReady, InvoicesClosed, RouterRequests, RouterCache, httpRequests, httpDuration)
}

// Handler serves the registry in Prometheus's exposition format.
func Handler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{Registry: Registry})
}

// Temporal is a metrics handler for the Temporal client and worker
// (client.Options.MetricsHandler) that reports into Registry: the SDK's
// own metrics (temporal_workflow_task_schedule_to_start_latency,
// temporal_sticky_cache_size, temporal_request_failure, ...).
var Temporal = sync.OnceValues(func() (client.MetricsHandler, error) {
	exporter, err := otelprom.New(otelprom.WithRegisterer(Registry), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, err
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	return temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{Meter: provider.Meter("temporal-sdk-go")}), nil
})

// HTTP counts a gin engine's requests per route template (not the raw
// path, which holds IDs) and status.
func HTTP(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	httpRequests.WithLabelValues(route, c.Request.Method, strconv.Itoa(c.Writer.Status())).Inc()
	httpDuration.WithLabelValues(route, c.Request.Method).Observe(time.Since(start).Seconds())
}
