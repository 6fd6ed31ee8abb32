package worker_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"go.temporal.io/sdk/activity"
	sdkworker "go.temporal.io/sdk/worker"

	"tenantry/activities"
)

// registry records what activities.Register registers.
type registry struct {
	sdkworker.ActivityRegistry // anything else panics
	names                      []string
	fns                        map[string]any
}

func (r *registry) RegisterActivityWithOptions(fn any, o activity.RegisterOptions) {
	r.names = append(r.names, o.Name)
	r.fns[o.Name] = fn
}

// scheduled is every activity the workflows' code names through their nil
// *activities.Activities (acts.X), read from the source.
func scheduled(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "workflows", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "acts" && !slices.Contains(names, sel.Sel.Name) {
					names = append(names, sel.Sel.Name)
				}
			}
			return true
		})
	}
	slices.Sort(names)
	return names
}

// TestRegisteredActivitiesAreExactlyTheScheduledOnes: a workflow that
// schedules an unregistered activity would call it on a nil receiver; a
// registered method no workflow schedules is not an activity.
func TestRegisteredActivitiesAreExactlyTheScheduledOnes(t *testing.T) {
	want := scheduled(t)
	if len(want) == 0 {
		t.Fatal("found no acts.X in workflows/*.go")
	}
	r := &registry{fns: map[string]any{}}
	activities.Register(r, &activities.Activities{})
	got := slices.Clone(r.names)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("registered activities differ from the ones the workflows schedule\nregistered: %v\nscheduled:  %v", got, want)
	}
	if names := slices.Sorted(slices.Values(activities.Names())); !slices.Equal(names, want) {
		t.Fatalf("activities.Names() = %v, want %v", names, want)
	}
	// Every exported method of the struct is an activity: helpers that are
	// not live elsewhere (internal/controldb, test support).
	var methods []string
	typ := reflect.TypeFor[*activities.Activities]()
	for i := range typ.NumMethod() {
		methods = append(methods, typ.Method(i).Name)
	}
	if !slices.Equal(methods, want) {
		t.Errorf("exported methods of *activities.Activities differ from the scheduled activities\nmethods:   %v\nscheduled: %v", methods, want)
	}
	// Each is registered under its own method's name, the type name a
	// workflow's acts.X resolves to and recorded histories hold.
	for name, fn := range r.fns {
		method := runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name()
		if !strings.HasSuffix(method, ".(*Activities)."+name+"-fm") {
			t.Errorf("activity %q is registered with %s", name, method)
		}
	}
}
