package console

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/internal/platform"
	"tenantry/workflows"
)

// DevServer is one database server of the fleet, as the list shows it.
type DevServer struct {
	Name, Address, State string
	Instances            string // "3 of 1000"
	Size                 string // "12.5 MB"
	Connections          string // "4 to tenants, 9 of 300"
	Checked              string
	Problems             []string
}

// DevServerDetail is a server with its instances and where they may go.
type DevServerDetail struct {
	DevServer
	List          []controldb.ServerInstance
	Targets       []string
	DrainWorkflow string
	Parallel      int
}

// DevServerForm keeps what was typed when a registration is refused (never
// the admin URL).
type DevServerForm struct {
	Name, Capacity string
}

func devServer(s platform.Server) DevServer {
	d := DevServer{Name: s.Name, Address: fmt.Sprintf("%s:%d", s.Host, s.Port), State: s.State,
		Instances: fmt.Sprintf("%d of %d", s.Instances, s.Capacity), Size: "-", Connections: "-", Checked: "never",
		Problems: s.CheckProblems}
	if s.Load != nil {
		d.Size = bytes(s.Load.DatabaseBytes)
		d.Connections = fmt.Sprintf("%d to tenants, %d of %d", s.Load.TenantConnections, s.Load.Connections, s.Load.MaxConnections)
	}
	if s.LoadError != "" {
		d.Problems = append([]string{s.LoadError}, d.Problems...)
	}
	if s.CheckedAt != nil {
		d.Checked = s.CheckedAt.UTC().Format(time.DateTime) + " UTC"
		if len(s.CheckProblems) == 0 {
			d.Checked += ": fine"
		}
	}
	return d
}

func bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%d kB", n/1024)
	}
}

func (k *Console) devServersPage(c *gin.Context) {
	k.showDevServers(c, http.StatusOK, "", DevServerForm{})
}

func (k *Console) showDevServers(c *gin.Context, status int, problem string, form DevServerForm) {
	list, err := k.P.Servers(c.Request.Context(), who(c))
	if err != nil {
		k.fail(c, err)
		return
	}
	out := make([]DevServer, len(list))
	for i, s := range list {
		out[i] = devServer(s)
	}
	p := k.page(c, "Database servers")
	p.Error = problem
	k.render(c, status, DevServersPage(p, out, form))
}

func (k *Console) devRegisterServer(c *gin.Context) {
	form := DevServerForm{Name: strings.TrimSpace(c.PostForm("name")), Capacity: strings.TrimSpace(c.PostForm("capacity"))}
	capacity := 0
	if form.Capacity != "" {
		n, err := strconv.Atoi(form.Capacity)
		if err != nil {
			k.showDevServers(c, http.StatusUnprocessableEntity, "capacity: a whole number of instances", form)
			return
		}
		capacity = n
	}
	s, _, err := k.P.RegisterServer(c.Request.Context(), who(c), platform.NewServer{Name: form.Name,
		AdminURL: c.PostForm("admin_url"), Capacity: capacity})
	if err != nil {
		k.showDevServers(c, apperr.HTTPStatus(err), apperr.Message(err), form)
		return
	}
	k.redirect(c, "/dev/servers/"+s.Name, s.Name+" is registered and takes new instances.")
}

func (k *Console) devServerPage(c *gin.Context) {
	s, err := k.P.Server(c.Request.Context(), who(c), c.Param("name"))
	if err != nil {
		k.fail(c, err)
		return
	}
	d := DevServerDetail{DevServer: devServer(s.Server), List: s.Instances, Targets: s.Targets,
		DrainWorkflow: s.DrainWorkflow, Parallel: workflows.DefaultDrainParallel}
	k.render(c, http.StatusOK, DevServerPage(k.page(c, "Database server "+s.Name), d))
}

func (k *Console) devServerState(c *gin.Context) {
	name := c.Param("name")
	s, err := k.P.SetServerState(c.Request.Context(), who(c), name, c.PostForm("state"))
	k.afterServerAction(c, name, err, func() string { return s.Name + " is " + s.State + "." })
}

func (k *Console) devCheckServer(c *gin.Context) {
	name := c.Param("name")
	check, err := k.P.CheckServer(c.Request.Context(), who(c), name)
	k.afterServerAction(c, name, err, func() string {
		if check.OK() {
			return name + " passed its check (PostgreSQL " + check.Version + ")."
		}
		return name + " has problems: " + strings.Join(check.Problems, "; ")
	})
}

func (k *Console) devDrainServer(c *gin.Context) {
	name := c.Param("name")
	id, err := k.P.DrainServer(c.Request.Context(), who(c), name)
	k.afterServerAction(c, name, err, func() string {
		return name + " is draining; its instances move off it (workflow " + id + ")."
	})
}

func (k *Console) devMoveInstance(c *gin.Context) {
	name := c.Param("name")
	m, err := k.P.MoveInstance(c.Request.Context(), who(c), c.PostForm("instance_id"), c.PostForm("to"))
	k.afterServerAction(c, name, err, func() string {
		return "Moving the instance from " + m.FromServer + " to " + m.ToServer + " (workflow " + m.WorkflowID + ")."
	})
}

// afterServerAction goes back to the server's page with what happened.
func (k *Console) afterServerAction(c *gin.Context, name string, err error, done func() string) {
	if err != nil && apperr.HTTPStatus(err) >= 500 {
		k.fail(c, err)
		return
	}
	msg := ""
	if err != nil {
		msg = apperr.Message(err)
	} else {
		msg = done()
	}
	k.redirect(c, "/dev/servers/"+name, msg)
}
