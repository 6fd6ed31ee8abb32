package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"tenantry/internal/controldb"
)

type catalogModule struct {
	Name             string `json:"name"`
	Description      string `json:"description"`
	Required         bool   `json:"required"`
	HourlyPriceMinor int64  `json:"hourly_price_minor"`
	// MonthlyPriceMinor is the price of a 30-day month, for display.
	MonthlyPriceMinor int64 `json:"monthly_price_minor"`
}

type catalogService struct {
	Name           string          `json:"name"`
	Description    string          `json:"description"`
	Currency       string          `json:"currency"`
	CurrentVersion string          `json:"current_version"`
	Versions       []string        `json:"versions"`
	Modules        []catalogModule `json:"modules"`
}

func (s *Server) catalog(c *gin.Context) {
	out := []catalogService{}
	now := s.Clock() // prices in effect now: a scheduled change counts from its instant
	for _, name := range s.Catalog.Names() {
		svc, _ := s.Catalog.Service(name)
		cs := catalogService{Name: svc.Name, Description: svc.Description, Currency: svc.Currency, CurrentVersion: svc.CurrentVersion}
		for _, v := range svc.Versions {
			cs.Versions = append(cs.Versions, v.Version)
		}
		for _, m := range svc.Modules {
			price, _ := m.PriceAt(now)
			cs.Modules = append(cs.Modules, catalogModule{Name: m.Name, Description: m.Description, Required: m.Required,
				HourlyPriceMinor: price, MonthlyPriceMinor: price * hoursPerMonth})
		}
		out = append(out, cs)
	}
	c.JSON(http.StatusOK, gin.H{"services": out})
}

// scheduledPrice is a price change of the schedule with its workflow.
type scheduledPrice struct {
	controldb.ScheduledPrice
	WorkflowID string `json:"workflow_id"`
	Describe   string `json:"describe"`
}

// catalogPrices lists every scheduled price change (scheduled, applied or
// cancelled) for the developers, like their catalog page.
func (s *Server) catalogPrices(c *gin.Context) {
	all, err := controldb.PriceSchedule(c.Request.Context(), s.DB, false)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := make([]scheduledPrice, len(all))
	for i, p := range all {
		d := devPrice(p)
		out[i] = scheduledPrice{ScheduledPrice: p, WorkflowID: d.WorkflowID, Describe: d.Describe}
	}
	c.JSON(http.StatusOK, gin.H{"prices": out})
}
