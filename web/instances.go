package web

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/serviceerror"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/internal/secret"
	"tenantry/internal/validate"
	"tenantry/workflows"
)

// instanceView is an instance as the API shows it.
type instanceView struct {
	ID      string   `json:"id"`
	Service string   `json:"service"`
	Version string   `json:"version"`
	Modules []string `json:"modules"`
	Status  string   `json:"status"`
	// Maintenance: the instance is being upgraded; its host answers 503.
	Maintenance   bool       `json:"maintenance"`
	Host          string     `json:"host"`
	Routed        bool       `json:"routed"`
	Database      string     `json:"database,omitempty"`
	FailureReason string     `json:"failure_reason,omitempty"`
	DisabledAt    *time.Time `json:"disabled_at,omitempty"`
	DeleteAfter   *time.Time `json:"delete_after,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	// Workflows are this instance's operations, newest kind last, each
	// with its live progress.
	Workflows []workflowView `json:"workflows,omitempty"`
	// Usage is this calendar month's metered usage (GET one instance).
	Usage *usageView `json:"usage,omitempty"`
}

type workflowView struct {
	Kind       string              `json:"kind"`
	WorkflowID string              `json:"workflow_id"`
	Progress   *workflows.Progress `json:"progress,omitempty"`
}

const instanceColumns = `id, service, version, modules, status, maintenance, host, host_registered_at IS NOT NULL,
	coalesce(database_name, ''), coalesce(failure_reason, ''), disabled_at, delete_after, created_at`

func scanInstance(row pgx.Row) (instanceView, error) {
	var v instanceView
	err := row.Scan(&v.ID, &v.Service, &v.Version, &v.Modules, &v.Status, &v.Maintenance, &v.Host, &v.Routed,
		&v.Database, &v.FailureReason, &v.DisabledAt, &v.DeleteAfter, &v.CreatedAt)
	return v, err
}

// ownInstance loads an instance of the caller's account. Another account's
// instance is "not found", never "forbidden": its existence is not revealed.
func (s *Server) ownInstance(c *gin.Context) (instanceView, error) {
	return s.findInstance(c.Request.Context(), userOf(c).AccountID, c.Param("id"))
}

// findInstance loads an instance of the given account; any other is "not
// found".
func (s *Server) findInstance(ctx context.Context, accountID, id string) (instanceView, error) {
	if _, err := uuid.Parse(id); err != nil {
		return instanceView{}, apperr.NotFound("no instance %s", id)
	}
	v, err := scanInstance(s.DB.QueryRow(ctx,
		`SELECT `+instanceColumns+` FROM instances WHERE id = $1 AND account_id = $2`, id, accountID))
	if errors.Is(err, pgx.ErrNoRows) {
		return v, apperr.NotFound("no instance %s", id)
	}
	return v, err
}

func (s *Server) listInstances(c *gin.Context) {
	list, err := s.accountInstances(c.Request.Context(), userOf(c).AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"instances": list})
}

func (s *Server) getInstance(c *gin.Context) {
	v, err := s.ownInstance(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	v.Workflows = s.instanceWorkflows(c.Request.Context(), v.ID)
	if v.Usage, err = monthUsage(c.Request.Context(), s.DB, v.ID); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// instanceWorkflows asks each of the instance's workflows, at once, for
// its progress; one that never ran is left out, one that does not answer
// is listed without progress.
func (s *Server) instanceWorkflows(ctx context.Context, id string) []workflowView {
	all := []workflowView{
		{Kind: "enable", WorkflowID: workflows.EnableID(id)},
		{Kind: "change_modules", WorkflowID: workflows.ChangeModulesID(id)},
		{Kind: "disable", WorkflowID: workflows.DisableID(id)},
	}
	ran := make([]bool, len(all))
	var wg sync.WaitGroup
	for i := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, found, err := s.latestProgress(ctx, all[i].WorkflowID)
			var notFound *serviceerror.NotFound
			ran[i] = found || !errors.As(err, &notFound)
			all[i].Progress = p
		}()
	}
	wg.Wait()
	var out []workflowView
	for i, w := range all {
		if ran[i] {
			out = append(out, w)
		}
	}
	return out
}

type setupRequest struct {
	AdminEmail    string `json:"admin_email"`
	AdminName     string `json:"admin_name"`
	AdminPassword string `json:"admin_password"`
	Language      string `json:"language"`
}

// toSetup checks a setup page and hashes its password, so only the hash
// travels into the workflow.
func (r setupRequest) toSetup() (activities.Setup, error) {
	setup := activities.Setup{AdminEmail: r.AdminEmail, AdminName: r.AdminName, Language: r.Language}
	if err := setup.CheckDetails(); err != nil {
		return setup, err
	}
	if err := validate.Password(r.AdminPassword); err != nil {
		return setup, apperr.Invalid("admin %s", apperr.Message(err))
	}
	setup.AdminPasswordHash = secret.HashPassword(r.AdminPassword)
	return setup, nil
}

type enableRequest struct {
	Service string        `json:"service"`
	Modules []string      `json:"modules"`
	Host    string        `json:"host"`
	Setup   *setupRequest `json:"setup,omitempty"`
}

// enableInstance starts EnableService with an update that waits for the
// request to be validated and the host reserved: the client gets 201 with a
// real instance, or the reason it was refused, in one call.
func (s *Server) enableInstance(c *gin.Context) {
	var req enableRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	id, err := s.startEnable(c.Request.Context(), userOf(c), req)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Params = append(c.Params, gin.Param{Key: "id", Value: id})
	v, err := s.ownInstance(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	v.Workflows = []workflowView{{Kind: "enable", WorkflowID: workflows.EnableID(id)}}
	c.Header("Location", "/api/instances/"+id)
	c.JSON(http.StatusCreated, v)
}
