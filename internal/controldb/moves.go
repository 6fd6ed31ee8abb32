package controldb

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/apperr"
)

// MovePlan is a checked move of an instance's database to another server.
type MovePlan struct {
	InstanceID   string
	AccountID    string
	Service      string
	Database     string
	Role         string
	FromServerID string
	FromServer   string
	ToServerID   string
	ToServer     string
}

// CheckMove validates moving an instance's database to the server named
// toServer without writing anything: the instance is ready or disabled,
// out of maintenance, not in a running rollout, and placed; the target is
// another active server with room. The platform layer calls it to answer at once, the MoveInstance
// workflow's first step again as the authority.
func CheckMove(ctx context.Context, q Querier, instanceID, toServer string) (MovePlan, error) {
	plan := MovePlan{InstanceID: instanceID}
	var status string
	var maintenance bool
	var from, fromName, database, role *string
	err := q.QueryRow(ctx, `
		SELECT i.account_id::text, i.service, i.status, i.maintenance, i.database_server_id::text, s.name, i.database_name, i.role_name
		FROM instances i LEFT JOIN database_servers s ON s.id = i.database_server_id WHERE i.id = $1`, instanceID).
		Scan(&plan.AccountID, &plan.Service, &status, &maintenance, &from, &fromName, &database, &role)
	if errors.Is(err, pgx.ErrNoRows) {
		return plan, apperr.NotFound("no instance %s", instanceID)
	}
	if err != nil {
		return plan, err
	}
	if status != "ready" && status != "disabled" {
		return plan, apperr.Conflict("only a ready or disabled instance can move (it is %s)", status)
	}
	if maintenance {
		return plan, apperr.Conflict("the instance is in maintenance (an upgrade or a move is running): try again when it ends")
	}
	// A running rollout will put it in maintenance when its turn comes:
	// the two would race for it, so it moves after the rollout.
	if rollout, owned, err := RolloutOwning(ctx, q, instanceID); err != nil {
		return plan, err
	} else if owned {
		return plan, apperr.Conflict("the instance belongs to the running rollout %s: move it when the rollout has ended", rollout)
	}
	if from == nil || database == nil || role == nil {
		return plan, apperr.Conflict("the instance has no database to move")
	}
	plan.FromServerID, plan.FromServer, plan.Database, plan.Role = *from, *fromName, *database, *role
	to, err := ServerByName(ctx, q, toServer)
	if err != nil {
		return plan, err
	}
	plan.ToServerID, plan.ToServer = to.ID, to.Name
	switch {
	case to.ID == plan.FromServerID:
		return plan, apperr.Invalid("the instance is on %s already", to.Name)
	case !to.Active:
		return plan, apperr.Conflict("%s is draining: it takes no instances", to.Name)
	case to.Instances >= to.Capacity:
		return plan, apperr.Conflict("%s is full (%d of %d instances)", to.Name, to.Instances, to.Capacity)
	}
	return plan, nil
}
