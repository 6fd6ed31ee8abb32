package e2e_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"tenantry/internal/config"
	"tenantry/internal/stack"
	"tenantry/internal/testenv"
	"tenantry/schemas"
	"tenantry/workflows"
)

// osb is a platform talking to the broker: basic auth, the version header
// and an originating identity on every request.
type osb struct {
	t          *testing.T
	base       string
	user, pass string
	version    string
}

// do sends a request and decodes the JSON answer into out; it returns the
// status.
func (o *osb) do(method, path string, body, out any) int {
	o.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, o.base+path, r)
	req.Header.Set("Content-Type", "application/json")
	if o.version != "" {
		req.Header.Set("X-Broker-API-Version", o.version)
	}
	if o.user != "" {
		req.SetBasicAuth(o.user, o.pass)
	}
	req.Header.Set("X-Broker-API-Originating-Identity",
		"cloudfoundry "+base64.StdEncoding.EncodeToString([]byte(`{"user_id":"cf-user-7"}`)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			o.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// must sends a request that has to answer want.
func (o *osb) must(want int, method, path string, body, out any) map[string]any {
	o.t.Helper()
	var raw map[string]any
	if got := o.do(method, path, body, &raw); got != want {
		o.t.Fatalf("%s %s: status %d, want %d: %v", method, path, got, want, raw)
	}
	if out != nil {
		b, _ := json.Marshal(raw)
		if err := json.Unmarshal(b, out); err != nil {
			o.t.Fatal(err)
		}
	}
	return raw
}

// pollDone polls an instance's last operation until it ends; it returns
// the final state and description.
func (o *osb) pollDone(path, operation string) (string, string) {
	o.t.Helper()
	var last struct{ State, Description string }
	eventually(o.t, 60*time.Second, "last operation "+operation+" ends", func() bool {
		o.must(http.StatusOK, "GET", path+"/last_operation?operation="+url.QueryEscape(operation), nil, &last)
		return last.State != "in progress"
	})
	return last.State, last.Description
}

type osbCatalog struct {
	Services []struct {
		ID                   string `json:"id"`
		Name                 string `json:"name"`
		Bindable             bool   `json:"bindable"`
		InstancesRetrievable bool   `json:"instances_retrievable"`
		BindingsRetrievable  bool   `json:"bindings_retrievable"`
		PlanUpdateable       *bool  `json:"plan_updateable"`
		Plans                []struct {
			ID              string         `json:"id"`
			Name            string         `json:"name"`
			Schemas         map[string]any `json:"schemas"`
			MaintenanceInfo struct {
				Version string `json:"version"`
			} `json:"maintenance_info"`
		} `json:"plans"`
	} `json:"services"`
}

// TestBrokerLifecycle drives the Open Service Broker API over HTTP as a
// platform would, against the real stack: an owner makes broker
// credentials in the console; the platform reads the catalog, provisions a
// forum asynchronously (with its setup in the parameters), polls, fetches
// it, changes its modules, binds (a read-only login role: it reads, it
// cannot write), moves the instance to the version a release makes
// current, unbinds (the role is gone) and deprovisions; every error rule
// the spec sets on the way.
func TestBrokerLifecycle(t *testing.T) {
	s, cfg := startStackWith(t, stack.Config{Config: config.Config{GracePeriod: time.Hour}})
	ctx := context.Background()
	a := &api{t: t, base: s.URL + "/api"}
	a.must(http.StatusCreated, "POST", "/signup", map[string]string{
		"email": "ops@paas.test", "name": "Ops", "account_name": "PaaS Co", "password": "correct horse battery"}, nil)
	owner := consoleSession(t, s.URL, "ops@paas.test", "correct horse battery")
	user, pass := owner.brokerCredentials("cf production", "127.0.0.1, ::1")
	elsewhereUser, elsewherePass := owner.brokerCredentials("elsewhere", "10.0.0.0/8")

	o := &osb{t: t, base: s.URL + "/v2", user: user, pass: pass, version: "2.16"}

	// The version header, and who may ask.
	for _, v := range []string{"", "2.13", "1.99", "two"} {
		bad := *o
		bad.version = v
		bad.must(http.StatusPreconditionFailed, "GET", "/catalog", nil, nil)
	}
	(&osb{t: t, base: o.base, version: "2.14"}).must(http.StatusUnauthorized, "GET", "/catalog", nil, nil)
	(&osb{t: t, base: o.base, user: user, pass: "wrong", version: "2.14"}).must(http.StatusUnauthorized, "GET", "/catalog", nil, nil)
	(&osb{t: t, base: o.base, user: elsewhereUser, pass: elsewherePass, version: "2.14"}).
		must(http.StatusForbidden, "GET", "/catalog", nil, nil)

	// The catalog: one offering per service, one plan, modules in the
	// parameters, the current version in maintenance_info.
	var cat osbCatalog
	o.must(http.StatusOK, "GET", "/catalog", nil, &cat)
	var serviceID, planID string
	for _, svc := range cat.Services {
		if svc.Name != "forum" {
			continue
		}
		if !svc.Bindable || !svc.InstancesRetrievable || !svc.BindingsRetrievable || svc.PlanUpdateable == nil || len(svc.Plans) != 1 {
			t.Fatalf("forum's offering: %+v", svc)
		}
		plan := svc.Plans[0]
		serviceID, planID = svc.ID, plan.ID
		if plan.MaintenanceInfo.Version != "1.0.0" {
			t.Errorf("maintenance_info.version %q, want forum's current 1.0.0", plan.MaintenanceInfo.Version)
		}
		create, _ := json.Marshal(plan.Schemas["service_instance"])
		if !strings.Contains(string(create), `"$schema":"http://json-schema.org/draft-04/schema#"`) ||
			!strings.Contains(string(create), `"attachments"`) {
			t.Errorf("instance schemas: %s", create)
		}
	}
	if serviceID == "" {
		t.Fatalf("no forum in %+v", cat)
	}

	// Provision: asynchronous only.
	osbID := "cf-" + uuid.NewString()
	path := "/service_instances/" + osbID
	provision := map[string]any{
		"service_id": serviceID, "plan_id": planID, "organization_guid": "org", "space_guid": "space",
		"context":          map[string]string{"platform": "cloudfoundry"},
		"maintenance_info": map[string]string{"version": "1.0.0"},
		"parameters": map[string]any{"host": "paas-forum.localhost", "modules": []string{"search"},
			"setup": map[string]string{"admin_email": "admin@paas.test", "admin_name": "Admin", "admin_password": "a long admin secret", "language": "en"}},
	}
	if got := o.must(http.StatusUnprocessableEntity, "PUT", path, provision, nil); got["error"] != "AsyncRequired" {
		t.Errorf("without accepts_incomplete: %v", got)
	}
	stale := clone(provision)
	stale["maintenance_info"] = map[string]string{"version": "0.9.0"}
	if got := o.must(http.StatusUnprocessableEntity, "PUT", path+"?accepts_incomplete=true", stale, nil); got["error"] != "MaintenanceInfoConflict" {
		t.Errorf("stale maintenance_info: %v", got)
	}
	var accepted struct{ Operation, DashboardURL string }
	o.must(http.StatusAccepted, "PUT", path+"?accepts_incomplete=true", provision, &accepted)
	raw := o.must(http.StatusAccepted, "PUT", path+"?accepts_incomplete=true", provision, nil) // the same again, while it runs
	if accepted.Operation == "" || raw["operation"] != accepted.Operation || !strings.Contains(raw["dashboard_url"].(string), "/instances/") {
		t.Errorf("provision answers %+v then %v", accepted, raw)
	}
	other := clone(provision)
	other["parameters"] = map[string]any{"host": "paas-forum.localhost", "modules": []string{"moderation"}}
	o.must(http.StatusConflict, "PUT", path+"?accepts_incomplete=true", other, nil)
	if state, why := o.pollDone(path, accepted.Operation); state != "succeeded" {
		t.Fatalf("provisioning ended %s: %s", state, why)
	}
	o.must(http.StatusOK, "PUT", path+"?accepts_incomplete=true", provision, nil) // the same again, once done

	// Fetch: the dashboard is the instance's console page.
	var fetched struct {
		ServiceID    string `json:"service_id"`
		DashboardURL string `json:"dashboard_url"`
		Parameters   struct {
			Host    string   `json:"host"`
			Modules []string `json:"modules"`
		} `json:"parameters"`
		MaintenanceInfo struct{ Version string } `json:"maintenance_info"`
	}
	o.must(http.StatusOK, "GET", path, nil, &fetched)
	instanceID := fetched.DashboardURL[strings.LastIndex(fetched.DashboardURL, "/")+1:]
	if fetched.ServiceID != serviceID || fetched.MaintenanceInfo.Version != "1.0.0" || strings.Join(fetched.Parameters.Modules, ",") != "core,search" {
		t.Errorf("fetched %+v", fetched)
	}
	if page := owner.get(strings.TrimPrefix(fetched.DashboardURL, s.URL)); !strings.Contains(page, "paas-forum.localhost") {
		t.Errorf("the dashboard is not the instance's page")
	}
	o.must(http.StatusNotFound, "GET", "/service_instances/"+uuid.NewString(), nil, nil)

	// Update the modules.
	update := map[string]any{"service_id": serviceID, "parameters": map[string]any{"modules": []string{"search", "moderation"}}}
	o.must(http.StatusUnprocessableEntity, "PATCH", path, update, nil)
	var upd struct{ Operation string }
	o.must(http.StatusAccepted, "PATCH", path+"?accepts_incomplete=true", update, &upd)
	if state, why := o.pollDone(path, upd.Operation); state != "succeeded" {
		t.Fatalf("module change ended %s: %s", state, why)
	}
	o.must(http.StatusOK, "PATCH", path+"?accepts_incomplete=true", update, nil) // no change left
	o.must(http.StatusOK, "GET", path, nil, &fetched)
	if strings.Join(fetched.Parameters.Modules, ",") != "core,search,moderation" {
		t.Errorf("modules after the update: %v", fetched.Parameters.Modules)
	}
	o.must(http.StatusUnprocessableEntity, "PATCH", path+"?accepts_incomplete=true",
		map[string]any{"service_id": serviceID, "plan_id": "another-plan"}, nil)

	// Bind: a role of its own, given once.
	bindingID := "app-" + uuid.NewString()
	bpath := path + "/service_bindings/" + bindingID
	bind := map[string]any{"service_id": serviceID, "plan_id": planID, "bind_resource": map[string]string{"app_guid": "app-1"}}
	var bound struct {
		Credentials map[string]any
		Endpoints   []map[string]any
	}
	o.must(http.StatusCreated, "PUT", bpath, bind, &bound)
	creds := bound.Credentials
	for _, k := range []string{"uri", "host", "port", "database", "username", "password", "url"} {
		if creds[k] == nil || creds[k] == "" {
			t.Errorf("credentials lack %s: %v", k, creds)
		}
	}
	if creds["url"] != "http://paas-forum.localhost" || len(bound.Endpoints) != 1 {
		t.Errorf("credentials %v, endpoints %v", creds, bound.Endpoints)
	}
	var again struct{ Credentials map[string]any }
	o.must(http.StatusOK, "PUT", bpath, bind, &again)
	o.must(http.StatusOK, "GET", bpath, nil, &again)
	if again.Credentials["password"] != nil || again.Credentials["uri"] != nil || again.Credentials["username"] != creds["username"] {
		t.Errorf("the password was given twice: %v", again.Credentials)
	}
	o.must(http.StatusNotFound, "PUT", "/service_instances/"+uuid.NewString()+"/service_bindings/"+bindingID, bind, nil)
	o.must(http.StatusBadRequest, "PUT", bpath, map[string]any{"service_id": serviceID, "plan_id": planID, "parameters": map[string]int{"x": 1}}, nil)
	var sealed []byte
	var tenantryBinding string
	if err := s.DB.QueryRow(ctx, `SELECT id::text, password_encrypted FROM broker_bindings WHERE osb_id = $1`, bindingID).
		Scan(&tenantryBinding, &sealed); err != nil || sealed != nil {
		t.Errorf("the sealed password is kept after it was given (%v)", err)
	}

	// The app reads and cannot write.
	uri := creds["uri"].(string)
	readBoards := func(uri string) error {
		conn, err := pgx.Connect(ctx, uri)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		var boards int
		return conn.QueryRow(ctx, `SELECT count(*) FROM boards`).Scan(&boards)
	}
	if err := readBoards(uri); err != nil {
		t.Fatalf("the binding cannot read: %v", err)
	}
	func() {
		conn, err := pgx.Connect(ctx, uri)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `INSERT INTO boards (slug, title) VALUES ('x', 'X')`); err == nil {
			t.Error("the binding wrote to the instance's database")
		}
		if _, err := conn.Exec(ctx, `SET default_transaction_read_only = off; INSERT INTO boards (slug, title) VALUES ('y', 'Y')`); err == nil {
			t.Error("the binding wrote after turning read-only off")
		}
	}()

	// A release makes forum 1.2.0 current: a web process of that release
	// offers it, and the update moves the instance there.
	rcfg := cfg
	rcfg.RunWorker, rcfg.Listen, rcfg.RouterListen, rcfg.Services = false, "127.0.0.1:0", "", withCurrentVersion(t, "forum", "1.2.0")
	release, err := stack.Start(ctx, rcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release.Stop)
	r := *o
	r.base = release.URL + "/v2"
	r.must(http.StatusOK, "GET", "/catalog", nil, &cat)
	upgrade := map[string]any{"service_id": serviceID, "plan_id": planID, "maintenance_info": map[string]string{"version": "1.2.0"},
		"previous_values": map[string]any{"maintenance_info": map[string]string{"version": "1.0.0"}}}
	if got := r.must(http.StatusUnprocessableEntity, "PATCH", path+"?accepts_incomplete=true",
		map[string]any{"service_id": serviceID, "maintenance_info": map[string]string{"version": "1.0.0"}}, nil); got["error"] != "MaintenanceInfoConflict" {
		t.Errorf("an update to the old version: %v", got)
	}
	r.must(http.StatusAccepted, "PATCH", path+"?accepts_incomplete=true", upgrade, &upd)
	if upd.Operation != "upgrade/1.2.0" {
		t.Errorf("upgrade operation %q", upd.Operation)
	}
	if state, why := r.pollDone(path, upd.Operation); state != "succeeded" {
		t.Fatalf("upgrade ended %s: %s", state, why)
	}
	r.must(http.StatusOK, "GET", path, nil, &fetched)
	if fetched.MaintenanceInfo.Version != "1.2.0" {
		t.Errorf("after the upgrade the instance runs %s", fetched.MaintenanceInfo.Version)
	}
	if err := readBoards(uri); err != nil {
		t.Errorf("the binding cannot read after the upgrade: %v", err)
	}

	// Unbind: the role is gone. Deprovision first is refused.
	o.must(http.StatusUnprocessableEntity, "DELETE", path+"?accepts_incomplete=true&service_id="+serviceID+"&plan_id="+planID, nil, nil)
	q := "?service_id=" + serviceID + "&plan_id=" + planID
	o.must(http.StatusOK, "DELETE", bpath+q, nil, nil)
	o.must(http.StatusGone, "DELETE", bpath+q, nil, nil)
	o.must(http.StatusNotFound, "GET", bpath, nil, nil)
	if err := readBoards(uri); err == nil {
		t.Error("the binding's credentials still work after unbinding")
	}
	admin, err := pgx.Connect(ctx, testenv.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var roles int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE rolname = $1`, creds["username"]).Scan(&roles); err != nil || roles != 0 {
		t.Errorf("the binding's role is still there (%d, %v)", roles, err)
	}

	// Deprovision: asynchronous, then gone.
	o.must(http.StatusUnprocessableEntity, "DELETE", path+q, nil, nil)
	o.must(http.StatusBadRequest, "DELETE", path+"?accepts_incomplete=true", nil, nil)
	var dep struct{ Operation string }
	o.must(http.StatusAccepted, "DELETE", path+q+"&accepts_incomplete=true", nil, &dep)
	if state, why := o.pollDone(path, dep.Operation); state != "succeeded" {
		t.Fatalf("deprovisioning ended %s: %s", state, why)
	}
	o.must(http.StatusGone, "DELETE", path+q+"&accepts_incomplete=true", nil, nil)
	o.must(http.StatusGone, "DELETE", "/service_instances/"+uuid.NewString()+q+"&accepts_incomplete=true", nil, nil)
	o.must(http.StatusNotFound, "GET", path, nil, nil)
	o.must(http.StatusConflict, "PUT", path+"?accepts_incomplete=true", provision, nil)

	// Who on the platform asked is in the account's timeline.
	var identity string
	if err := s.DB.QueryRow(ctx, `SELECT detail->>'originating_identity' FROM audit_log WHERE action = 'broker.provision'`).
		Scan(&identity); err != nil || identity != `{"user_id":"cf-user-7"}` {
		t.Errorf("originating identity %q (%v)", identity, err)
	}

	// Revoked credentials are refused at once.
	owner.revokeBrokerCredentials(user)
	o.must(http.StatusUnauthorized, "GET", "/catalog", nil, nil)

	recordRun(t, s, "bind", workflows.BindID(instanceID, tenantryBinding), "")
	recordRun(t, s, "unbind", workflows.UnbindID(instanceID, tenantryBinding), "")
}

func clone(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// withCurrentVersion is the catalog with one service's current version
// moved, as a release that makes it current would ship.
func withCurrentVersion(t *testing.T, service, version string) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(schemas.Services(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(schemas.Services(), p)
		if err != nil {
			return err
		}
		if p == service+"/manifest.json" {
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				return err
			}
			m["current_version"] = version
			data, _ = json.Marshal(m)
		}
		out[p] = &fstest.MapFile{Data: data}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// console is a signed-in console session.
type console struct {
	t    *testing.T
	base string
	c    *http.Client
}

func consoleSession(t *testing.T, base, email, password string) *console {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	k := &console{t: t, base: base, c: &http.Client{Jar: jar}}
	resp, err := k.c.PostForm(base+"/login", url.Values{"email": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return k
}

func (k *console) get(path string) string {
	k.t.Helper()
	resp, err := k.c.Get(k.base + path)
	if err != nil {
		k.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		k.t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	return string(body)
}

func (k *console) post(path string, form url.Values, want int) string {
	k.t.Helper()
	resp, err := k.c.PostForm(k.base+path, form)
	if err != nil {
		k.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		k.t.Fatalf("POST %s: %d, want %d", path, resp.StatusCode, want)
	}
	return string(body)
}

var (
	brokerUserRe = regexp.MustCompile(`id="broker-username">([^<]+)<`)
	brokerPassRe = regexp.MustCompile(`id="broker-password">([^<]+)<`)
)

// brokerCredentials makes broker credentials on the console's page and
// reads them from the answer, the only place they are shown.
func (k *console) brokerCredentials(name, allowed string) (string, string) {
	k.t.Helper()
	page := k.post("/broker", url.Values{"name": {name}, "allowed_from": {allowed}}, http.StatusCreated)
	u, p := brokerUserRe.FindStringSubmatch(page), brokerPassRe.FindStringSubmatch(page)
	if u == nil || p == nil {
		k.t.Fatalf("no credentials on the page:\n%s", page)
	}
	return u[1], p[1]
}

// revokeBrokerCredentials presses Revoke beside the credentials of user.
func (k *console) revokeBrokerCredentials(user string) {
	k.t.Helper()
	page := k.get("/broker")
	re := regexp.MustCompile(`<code>` + regexp.QuoteMeta(user) + `</code>(?s:.*?)action="(/broker/[^"]+/revoke)"`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		k.t.Fatalf("no Revoke for %s on the page", user)
	}
	k.post(m[1], nil, http.StatusOK) // redirected to the page
}
