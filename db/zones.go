package db

import (
	"context"
	"fmt"

	"github.com/marketing-platform/distribution/internal/model"
)

// SetUserTimeZone stores the time zone user id reads times in (an IANA name the caller validated;
// "" = the deployment default). Every session and token of the user follows from its next request.
func (db *DB) SetUserTimeZone(ctx context.Context, id int64, zone string) error {
	tag, err := db.Pool.Exec(ctx, `UPDATE users SET time_zone = $2 WHERE id = $1`, id, zone)
	if err != nil {
		return fmt.Errorf("set time zone: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return model.Errorf(model.ENOTFOUND, "user not found")
	}
	return nil
}
