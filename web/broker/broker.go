// Package broker serves the Open Service Broker API (v2.14 and later)
// under /v2, so a platform (Cloud Foundry, a Kubernetes service catalog,
// Crossplane) provisions and binds Tenantry instances for its apps. It
// checks the API version header, signs the platform in with broker
// credentials (HTTP basic auth from an allowed address), translates each
// request into a platform-layer call and the answer into the spec's
// statuses and bodies. It holds no rules, no SQL and starts no workflow.
package broker

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"tenantry/internal/apperr"
	"tenantry/internal/platform"
)

// Platform is what the broker needs of the platform layer.
type Platform interface {
	ResolveBrokerCredential(ctx context.Context, username, password, addr string) (platform.Principal, error)
	BrokerCatalog(ctx context.Context) ([]platform.BrokerOffering, error)
	BrokerProvision(ctx context.Context, who platform.Principal, in platform.BrokerInstanceInput) (platform.BrokerReply, error)
	BrokerUpdate(ctx context.Context, who platform.Principal, in platform.BrokerInstanceInput) (platform.BrokerReply, error)
	BrokerDeprovision(ctx context.Context, who platform.Principal, in platform.BrokerDeprovisionInput) (platform.BrokerReply, error)
	BrokerInstance(ctx context.Context, who platform.Principal, osbID, consoleURL string) (platform.BrokerInstanceView, error)
	BrokerLastOperation(ctx context.Context, who platform.Principal, osbID, operation string) (platform.BrokerOperation, error)
	BrokerBind(ctx context.Context, who platform.Principal, in platform.BrokerBindInput) (platform.BrokerBinding, bool, error)
	BrokerGetBinding(ctx context.Context, who platform.Principal, instanceID, bindingID string) (platform.BrokerBinding, error)
	BrokerUnbind(ctx context.Context, who platform.Principal, in platform.BrokerUnbindInput) error
}

// Broker is the OSB API's handlers.
type Broker struct {
	P   Platform
	Log *slog.Logger
}

// The headers the spec defines.
const (
	VersionHeader  = "X-Broker-API-Version"
	IdentityHeader = "X-Broker-API-Originating-Identity"
	RequestHeader  = "X-Broker-API-Request-Identity"
)

// Routes adds the API under /v2.
func (b *Broker) Routes(r *gin.Engine) {
	v2 := r.Group("/v2", b.version, b.signIn)
	v2.GET("/catalog", b.catalog)
	v2.PUT("/service_instances/:instance_id", b.asyncOnly, b.provision)
	v2.PATCH("/service_instances/:instance_id", b.asyncOnly, b.update)
	v2.DELETE("/service_instances/:instance_id", b.asyncOnly, b.deprovision)
	v2.GET("/service_instances/:instance_id", b.fetchInstance)
	v2.GET("/service_instances/:instance_id/last_operation", b.lastOperation)
	v2.PUT("/service_instances/:instance_id/service_bindings/:binding_id", b.bind)
	v2.GET("/service_instances/:instance_id/service_bindings/:binding_id", b.fetchBinding)
	v2.DELETE("/service_instances/:instance_id/service_bindings/:binding_id", b.unbind)
}

// version refuses a request without X-Broker-API-Version, or older than
// platform.BrokerMinAPIVersion, with 412 Precondition Failed, and echoes
// the request's identity.
func (b *Broker) version(c *gin.Context) {
	if id := c.GetHeader(RequestHeader); id != "" {
		c.Header(RequestHeader, id)
	}
	v := strings.TrimSpace(c.GetHeader(VersionHeader))
	if !SupportedVersion(v) {
		msg := "send " + VersionHeader + ": " + platform.BrokerMinAPIVersion + " or later (2.x)"
		if v != "" {
			msg = "API version " + v + " is not supported: " + msg
		}
		c.AbortWithStatusJSON(http.StatusPreconditionFailed, gin.H{"description": msg})
		return
	}
	c.Next()
}

// SupportedVersion says whether an X-Broker-API-Version is served: 2.14
// or a later 2.x.
func SupportedVersion(v string) bool {
	major, minor, ok := strings.Cut(v, ".")
	mi, err := strconv.Atoi(minor)
	minMinor, _ := strconv.Atoi(strings.TrimPrefix(platform.BrokerMinAPIVersion, "2."))
	return ok && major == "2" && err == nil && mi >= minMinor
}

const principalKey = "tenantry.broker.principal"

// signIn admits a platform with valid broker credentials from an allowed
// address.
func (b *Broker) signIn(c *gin.Context) {
	user, pass, ok := c.Request.BasicAuth()
	if !ok {
		b.fail(c, apperr.Unauthorized("sign in with the broker credentials (HTTP basic auth) an account owner made in the console"))
		return
	}
	who, err := b.P.ResolveBrokerCredential(c.Request.Context(), user, pass, c.ClientIP())
	if err != nil {
		b.fail(c, err)
		return
	}
	c.Set(principalKey, who)
	c.Next()
}

func who(c *gin.Context) platform.Principal { return c.MustGet(principalKey).(platform.Principal) }

func origin(c *gin.Context) platform.BrokerOrigin {
	return platform.BrokerOrigin{Identity: c.GetHeader(IdentityHeader)}
}

// consoleURL is the console's base URL as the platform reached this
// server, for dashboard_url.
func consoleURL(c *gin.Context) string {
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host
}

// asyncOnly refuses a provision, update or deprovision that does not
// accept an asynchronous answer: every one of them runs a workflow.
func (b *Broker) asyncOnly(c *gin.Context) {
	if c.Query("accepts_incomplete") != "true" {
		c.AbortWithStatusJSON(http.StatusUnprocessableEntity, gin.H{"error": "AsyncRequired",
			"description": "This service plan requires client support for asynchronous service operations (accepts_incomplete=true)."})
		return
	}
	c.Next()
}

// fail answers an error with the spec's status and body.
func (b *Broker) fail(c *gin.Context, err error) {
	body := gin.H{"description": apperr.Message(err)}
	var bf *platform.BrokerFailure
	status := http.StatusInternalServerError
	switch {
	case errors.As(err, &bf):
		body["description"] = bf.Message
		if bf.Code != "" {
			body["error"] = bf.Code
		}
		status = map[platform.BrokerFailureKind]int{
			platform.BrokerMalformed: http.StatusBadRequest, platform.BrokerConflict: http.StatusConflict,
			platform.BrokerGone: http.StatusGone, platform.BrokerUnprocessable: http.StatusUnprocessableEntity,
			platform.BrokerNotFound: http.StatusNotFound,
		}[bf.Kind]
	default:
		switch apperr.KindOf(err) {
		case apperr.KindInvalid:
			status = http.StatusBadRequest
		case apperr.KindConflict:
			status, body["error"] = http.StatusUnprocessableEntity, "ConcurrencyError"
		case apperr.KindNotFound:
			status = http.StatusNotFound
		case apperr.KindForbidden:
			status = http.StatusForbidden
		case apperr.KindTooMany:
			status = http.StatusTooManyRequests
		case apperr.KindUnauthorized:
			status = http.StatusUnauthorized
			c.Header("WWW-Authenticate", `Basic realm="Tenantry service broker"`)
		}
	}
	if status >= 500 {
		b.Log.Error("broker request failed", "path", c.FullPath(), "err", err)
	}
	c.AbortWithStatusJSON(status, body)
}

func (b *Broker) catalog(c *gin.Context) {
	list, err := b.P.BrokerCatalog(c.Request.Context())
	if err != nil {
		b.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"services": list})
}

type maintenanceInfo struct {
	Version string `json:"version"`
}

// instanceBody is a provision's or update's body; fields the spec defines
// that Tenantry does not use (context, organization_guid, space_guid,
// previous_values) and vendor extensions are ignored.
type instanceBody struct {
	ServiceID       string           `json:"service_id"`
	PlanID          string           `json:"plan_id"`
	Parameters      json.RawMessage  `json:"parameters"`
	MaintenanceInfo *maintenanceInfo `json:"maintenance_info"`
}

func (m *maintenanceInfo) version() string {
	if m == nil {
		return ""
	}
	return m.Version
}

// decode reads a JSON body; unknown fields are ignored, as the spec wants.
func decode(c *gin.Context, v any) error {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(raw, v)
	}
	if err != nil {
		return &platform.BrokerFailure{Kind: platform.BrokerMalformed, Message: "the request body must be a JSON object"}
	}
	return nil
}

func (b *Broker) provision(c *gin.Context) {
	var body instanceBody
	if err := decode(c, &body); err != nil {
		b.fail(c, err)
		return
	}
	reply, err := b.P.BrokerProvision(c.Request.Context(), who(c), platform.BrokerInstanceInput{
		InstanceID: c.Param("instance_id"), ServiceID: body.ServiceID, PlanID: body.PlanID, Parameters: body.Parameters,
		MaintenanceVersion: body.MaintenanceInfo.version(), Origin: origin(c), ConsoleURL: consoleURL(c),
	})
	if err != nil {
		b.fail(c, err)
		return
	}
	out := gin.H{"dashboard_url": reply.DashboardURL}
	if reply.Accepted {
		out["operation"] = reply.Operation
		c.JSON(http.StatusAccepted, out)
		return
	}
	c.JSON(http.StatusOK, out)
}

func (b *Broker) update(c *gin.Context) {
	var body instanceBody
	if err := decode(c, &body); err != nil {
		b.fail(c, err)
		return
	}
	reply, err := b.P.BrokerUpdate(c.Request.Context(), who(c), platform.BrokerInstanceInput{
		InstanceID: c.Param("instance_id"), ServiceID: body.ServiceID, PlanID: body.PlanID, Parameters: body.Parameters,
		MaintenanceVersion: body.MaintenanceInfo.version(), Origin: origin(c), ConsoleURL: consoleURL(c),
	})
	if err != nil {
		b.fail(c, err)
		return
	}
	if reply.Accepted {
		c.JSON(http.StatusAccepted, gin.H{"operation": reply.Operation, "dashboard_url": reply.DashboardURL})
		return
	}
	c.JSON(http.StatusOK, gin.H{})
}

func (b *Broker) deprovision(c *gin.Context) {
	reply, err := b.P.BrokerDeprovision(c.Request.Context(), who(c), platform.BrokerDeprovisionInput{
		InstanceID: c.Param("instance_id"), ServiceID: c.Query("service_id"), PlanID: c.Query("plan_id"), Origin: origin(c),
	})
	if err != nil {
		b.fail(c, err)
		return
	}
	if reply.Accepted {
		c.JSON(http.StatusAccepted, gin.H{"operation": reply.Operation})
		return
	}
	c.JSON(http.StatusOK, gin.H{})
}

func (b *Broker) fetchInstance(c *gin.Context) {
	v, err := b.P.BrokerInstance(c.Request.Context(), who(c), c.Param("instance_id"), consoleURL(c))
	if err != nil {
		b.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (b *Broker) lastOperation(c *gin.Context) {
	op, err := b.P.BrokerLastOperation(c.Request.Context(), who(c), c.Param("instance_id"), c.Query("operation"))
	if err != nil {
		b.fail(c, err)
		return
	}
	if op.State == platform.BrokerInProgress {
		c.Header("Retry-After", "1")
	}
	out := gin.H{"state": op.State, "description": op.Description}
	if op.InstanceUsable != nil {
		out["instance_usable"] = *op.InstanceUsable
	}
	c.JSON(http.StatusOK, out)
}

// bindBody is a bind's body; app_guid, bind_resource and context are
// ignored.
type bindBody struct {
	ServiceID  string          `json:"service_id"`
	PlanID     string          `json:"plan_id"`
	Parameters json.RawMessage `json:"parameters"`
}

func (b *Broker) bind(c *gin.Context) {
	var body bindBody
	if err := decode(c, &body); err != nil {
		b.fail(c, err)
		return
	}
	binding, created, err := b.P.BrokerBind(c.Request.Context(), who(c), platform.BrokerBindInput{
		InstanceID: c.Param("instance_id"), BindingID: c.Param("binding_id"), ServiceID: body.ServiceID, PlanID: body.PlanID,
		Parameters: body.Parameters, Origin: origin(c),
	})
	if err != nil {
		b.fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, binding)
}

func (b *Broker) fetchBinding(c *gin.Context) {
	binding, err := b.P.BrokerGetBinding(c.Request.Context(), who(c), c.Param("instance_id"), c.Param("binding_id"))
	if err != nil {
		b.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, binding)
}

func (b *Broker) unbind(c *gin.Context) {
	err := b.P.BrokerUnbind(c.Request.Context(), who(c), platform.BrokerUnbindInput{
		InstanceID: c.Param("instance_id"), BindingID: c.Param("binding_id"), ServiceID: c.Query("service_id"),
		PlanID: c.Query("plan_id"), Origin: origin(c),
	})
	if err != nil {
		b.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{})
}
