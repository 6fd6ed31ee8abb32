package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// check reads the databases after every phase and prints the last line;
// it fails when a target is missed.
func (s *suite) check() error {
	// Instances some refused or accepted enable left provisioning settle
	// first (their workflows run on).
	deadline := time.Now().Add(60 * time.Second)
	var stuck int
	for {
		_ = s.db.QueryRow(s.ctx, `SELECT count(*) FROM instances WHERE status = 'provisioning' AND database_name IS NOT NULL`).Scan(&stuck)
		if stuck == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	var orphanDBs, orphanRoles, dupSpans, danglingSpans, dupInvoices, overlapping int
	queries := []struct {
		into *int
		sql  string
	}{
		{&orphanDBs, `SELECT count(*) FROM pg_database d WHERE d.datname LIKE 'tenant\_%' AND NOT EXISTS (
			SELECT 1 FROM instances i WHERE i.database_name = d.datname AND i.status IN ('provisioning', 'ready', 'disabled'))`},
		{&orphanRoles, `SELECT count(*) FROM pg_roles r WHERE r.rolname LIKE 'tenant\_%' AND NOT EXISTS (
			SELECT 1 FROM instances i WHERE i.role_name = r.rolname AND i.status IN ('provisioning', 'ready', 'disabled'))`},
		{&dupSpans, `SELECT count(*) FROM (SELECT 1 FROM usage_spans WHERE ended_at IS NULL GROUP BY instance_id, module HAVING count(*) > 1) d`},
		{&danglingSpans, `SELECT count(*) FROM usage_spans s JOIN instances i ON i.id = s.instance_id
			WHERE s.ended_at IS NULL AND i.status NOT IN ('provisioning', 'ready')`},
		{&dupInvoices, `SELECT count(*) FROM (SELECT 1 FROM invoices GROUP BY account_id, period_start HAVING count(*) > 1) d`},
		{&overlapping, `SELECT count(*) FROM invoices a JOIN invoices b ON a.account_id = b.account_id AND a.id < b.id
			AND a.period_start < b.period_end AND b.period_start < a.period_end`},
	}
	for _, q := range queries {
		if err := s.db.QueryRow(s.ctx, q.sql).Scan(q.into); err != nil {
			return err
		}
	}
	pgLog, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
	verifiers := strings.Count(string(pgLog), "SCRAM-SHA-256$")

	s.t.mu.Lock()
	accepted := len(s.t.accepted)
	ready := 0
	for _, e := range s.t.accepted {
		if !e.ready.IsZero() {
			ready++
		}
	}
	unclear := slices.Clone(s.t.unclear)
	refused := s.t.refused
	var maxRecovery float64
	var perPhase []string
	for _, ph := range s.phases {
		maxRecovery = max(maxRecovery, s.t.recovery[ph])
		perPhase = append(perPhase, fmt.Sprintf("%s=%.1f", ph, s.t.recovery[ph]))
	}
	s.t.mu.Unlock()
	for _, u := range unclear {
		fmt.Println("   unclear answer:", u)
	}
	failed := len(unclear) + accepted - ready
	orphans := orphanDBs + orphanRoles + stuck + danglingSpans
	fmt.Printf("refused=%d unclear=%d orphan_databases=%d orphan_roles=%d stuck_provisioning=%d dangling_spans=%d overlapping_invoices=%d verifiers_in_server_log=%d\n",
		refused, len(unclear), orphanDBs, orphanRoles, stuck, danglingSpans, overlapping, verifiers)
	fmt.Printf("recovery_s: %s\n", strings.Join(perPhase, " "))
	fmt.Printf("accepted=%d ready=%d failed=%d orphans=%d dup_spans=%d dup_invoices=%d max_recovery_s=%.1f phases=%d\n",
		accepted, ready, failed, orphans, dupSpans, dupInvoices+overlapping, maxRecovery, len(s.phases))
	if ready != accepted || failed > 0 || orphans > 0 || dupSpans > 0 || dupInvoices+overlapping > 0 || maxRecovery > 20 || verifiers > 0 {
		return fmt.Errorf("targets missed: ready=accepted, failed=0, orphans=0, no duplicates, no verifier in the server log, max_recovery_s<=20")
	}
	return nil
}
