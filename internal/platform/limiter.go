package platform

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// loginLimiter counts failed logins per account (email) and per address in
// a sliding window, in the control database, so every web process shares
// the budget. An attempt is counted before its password is checked and
// forgotten when it succeeds: a burst of parallel guesses cannot slip in
// between a check and the record of its failure.
type loginLimiter struct {
	db         *pgxpool.Pool
	now        func() time.Time
	window     time.Duration
	perAccount int
	perAddress int
}

func newLoginLimiter(db *pgxpool.Pool, now func() time.Time) *loginLimiter {
	return &loginLimiter{db: db, now: now, window: 15 * time.Minute, perAccount: 5, perAddress: 20}
}

// loginAttempt is one counted attempt; succeeded uncounts it.
type loginAttempt struct {
	l   *loginLimiter
	ids []int64
}

// begin counts an attempt for email from addr; allowed is false when the
// account or the address already used its budget (the attempt is then not
// counted, so refused tries do not extend a lockout).
func (l *loginLimiter) begin(ctx context.Context, email, addr string) (a loginAttempt, allowed bool, err error) {
	now := l.now()
	account, address := "account:"+email, "address:"+addr
	rows, err := l.db.Query(ctx, `INSERT INTO login_failures (key, at) VALUES ($1, $3), ($2, $3) RETURNING id`,
		account, address, now)
	if err != nil {
		return a, false, err
	}
	a = loginAttempt{l: l}
	if a.ids, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		return a, false, err
	}
	var perAccount, perAddress int
	if err := l.db.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE key = $1), count(*) FILTER (WHERE key = $2)
		FROM login_failures WHERE key IN ($1, $2) AND at > $3`, account, address, now.Add(-l.window)).
		Scan(&perAccount, &perAddress); err != nil {
		return a, false, err
	}
	if perAccount > l.perAccount || perAddress > l.perAddress {
		return a, false, a.succeeded(ctx)
	}
	return a, true, nil
}

// succeeded forgets the attempt (and, now and then, failures too old to
// count for anyone).
func (a loginAttempt) succeeded(ctx context.Context) error {
	_, err := a.l.db.Exec(ctx, `DELETE FROM login_failures WHERE id = ANY($1) OR at <= $2`,
		a.ids, a.l.now().Add(-a.l.window))
	return err
}
