package platform

import (
	"context"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/catalog"
	"tenantry/internal/controldb"
	"tenantry/workflows"
)

// HoursPerMonth prices a month as 30 days; the console and the API's
// catalog state the same rule.
const HoursPerMonth = 24 * 30

// PriceRule tells a client how a monthly price is computed.
const PriceRule = "Modules are billed by the hour; a month here is 30 days (720 hours). Core is always included."

// CatalogModule is a module with the price in effect now.
type CatalogModule struct {
	Name             string `json:"name"`
	Description      string `json:"description"`
	Required         bool   `json:"required"`
	HourlyPriceMinor int64  `json:"hourly_price_minor"`
	// MonthlyPriceMinor is the price of a 30-day month, for display.
	MonthlyPriceMinor int64 `json:"monthly_price_minor"`
}

// CatalogService is a service clients may enable.
type CatalogService struct {
	Name           string          `json:"name"`
	Description    string          `json:"description"`
	Currency       string          `json:"currency"`
	CurrentVersion string          `json:"current_version"`
	Versions       []string        `json:"versions"`
	Modules        []CatalogModule `json:"modules"`
}

// CatalogServices lists the services with the prices in effect now (a
// scheduled change counts from its instant) and the version a new
// instance gets (NewInstanceVersions). Anyone may read it.
func (p *Platform) CatalogServices(ctx context.Context) ([]CatalogService, error) {
	versions, err := p.NewInstanceVersions(ctx)
	if err != nil {
		return nil, err
	}
	out := []CatalogService{}
	now := p.Clock()
	for _, name := range p.Catalog.Names() {
		svc, _ := p.Catalog.Service(name)
		cs := CatalogService{Name: svc.Name, Description: svc.Description, Currency: svc.Currency, CurrentVersion: versions[name]}
		for _, v := range svc.Versions {
			cs.Versions = append(cs.Versions, v.Version)
		}
		for _, m := range svc.Modules {
			price, _ := m.PriceAt(now)
			cs.Modules = append(cs.Modules, CatalogModule{Name: m.Name, Description: m.Description, Required: m.Required,
				HourlyPriceMinor: price, MonthlyPriceMinor: price * HoursPerMonth})
		}
		out = append(out, cs)
	}
	return out, nil
}

// NewInstanceVersions maps each service to the version a new instance is
// created on: the manifest's current version, or a newer one a completed
// rollout moved every instance to. Anyone may read it.
func (p *Platform) NewInstanceVersions(ctx context.Context) (map[string]string, error) {
	return controldb.EnableVersions(ctx, p.DB, p.Catalog)
}

// Service is one service of the catalog (the code's manifests).
func (p *Platform) Service(name string) (*catalog.Service, error) { return p.Catalog.Service(name) }

// ServiceNames lists the catalog's services in order.
func (p *Platform) ServiceNames() []string { return p.Catalog.Names() }

// Monthly is what a set of modules of a service costs per month at the
// prices in effect now, in minor units, and the currency.
func (p *Platform) Monthly(service string, modules []string) (int64, string) {
	svc, err := p.Catalog.Service(service)
	if err != nil {
		return 0, ""
	}
	var sum int64
	now := p.Clock()
	for _, name := range modules {
		if m, ok := svc.Module(name); ok {
			price, _ := m.PriceAt(now)
			sum += price * HoursPerMonth
		}
	}
	return sum, svc.Currency
}

// ScheduledPrice is a price change of the schedule with its workflow.
type ScheduledPrice struct {
	controldb.ScheduledPrice
	WorkflowID string `json:"workflow_id"`
	Describe   string `json:"describe"`
}

// PriceSchedule lists every scheduled price change (scheduled, applied or
// cancelled) with its PriceChange workflow, for developers.
func (p *Platform) PriceSchedule(ctx context.Context, who Principal) ([]ScheduledPrice, error) {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return nil, err
	}
	all, err := controldb.PriceSchedule(ctx, p.DB, false)
	if err != nil {
		return nil, err
	}
	out := make([]ScheduledPrice, len(all))
	for i, sp := range all {
		id := workflows.PriceChangeID(sp.Service, sp.Module, sp.EffectiveAt)
		out[i] = ScheduledPrice{ScheduledPrice: sp, WorkflowID: id, Describe: "go tool temporal workflow describe --workflow-id " + id}
	}
	return out, nil
}

// Estimate prices a choice of modules of the version a new instance of
// the service gets; it says what is wrong with an impossible choice.
func (p *Platform) Estimate(ctx context.Context, service string, modules []string) (int64, string, error) {
	svc, err := p.Catalog.Service(service)
	if err != nil {
		return 0, "", apperr.Invalid("choose a service")
	}
	version, err := controldb.EnableVersion(ctx, p.DB, svc)
	if err != nil {
		return 0, "", err
	}
	mods, err := svc.ResolveModules(version, modules)
	if err != nil {
		return 0, "", err
	}
	price, cur := p.Monthly(service, mods)
	return price, cur, nil
}
