package platform_test

import (
	"errors"
	"testing"

	"tenantry/internal/platform"
)

// brokerKind is the broker failure's kind, or "" for none.
func brokerKind(err error) platform.BrokerFailureKind {
	var bf *platform.BrokerFailure
	if errors.As(err, &bf) {
		return bf.Kind
	}
	return ""
}

// TestBrokerRulesBeforeAnyWorkflow covers the broker's answers that the
// end-to-end lifecycle does not reach: a binding id reused on another
// instance, a deprovision of an instance whose provisioning failed (at
// once, nothing to stop), and what a platform may not send.
func TestBrokerRulesBeforeAnyWorkflow(t *testing.T) {
	f := newFixture(t)
	owner := f.who["owner"]
	service, plan := f.brokerIDs()

	_, _, err := f.p.BrokerBind(f.ctx, owner, platform.BrokerBindInput{InstanceID: f.acme.osbBare, BindingID: f.acme.binding,
		ServiceID: service, PlanID: plan})
	if brokerKind(err) != platform.BrokerConflict {
		t.Errorf("a binding id of another instance: %v", err)
	}

	f.exec(`UPDATE instances SET status = 'failed' WHERE id = (SELECT instance_id FROM broker_instances WHERE osb_id = $1)`, f.acme.osbBare)
	reply, err := f.p.BrokerDeprovision(f.ctx, owner, platform.BrokerDeprovisionInput{InstanceID: f.acme.osbBare, ServiceID: service, PlanID: plan})
	if err != nil || reply.Accepted {
		t.Errorf("deprovision of a failed instance: %+v, %v", reply, err)
	}
	_, err = f.p.BrokerDeprovision(f.ctx, owner, platform.BrokerDeprovisionInput{InstanceID: f.acme.osbBare, ServiceID: service, PlanID: plan})
	if brokerKind(err) != platform.BrokerGone {
		t.Errorf("deprovision again: %v", err)
	}

	for name, in := range map[string]platform.BrokerInstanceInput{
		"no host":           {InstanceID: "a", ServiceID: service, PlanID: plan, Parameters: []byte(`{}`)},
		"unknown parameter": {InstanceID: "b", ServiceID: service, PlanID: plan, Parameters: []byte(`{"host": "b.localhost", "size": 3}`)},
		"unknown plan":      {InstanceID: "c", ServiceID: service, PlanID: "gold", Parameters: []byte(`{"host": "c.localhost"}`)},
		"unknown module":    {InstanceID: "d", ServiceID: service, PlanID: plan, Parameters: []byte(`{"host": "d.localhost", "modules": ["x"]}`)},
		"bad origin": {InstanceID: "e", ServiceID: service, PlanID: plan, Parameters: []byte(`{"host": "e.localhost"}`),
			Origin: platform.BrokerOrigin{Identity: "cloudfoundry not-base64"}},
	} {
		before := f.state()
		if _, err := f.p.BrokerProvision(f.ctx, owner, in); brokerKind(err) != platform.BrokerMalformed {
			t.Errorf("%s: %v, want malformed", name, err)
		}
		if f.state() != before {
			t.Errorf("%s: a refused provision changed %s", name, changed(before, f.state()))
		}
	}
}
