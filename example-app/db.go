package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// User is the demo's one entity.
type User struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Visits    int64     `json:"visits"`
	UpdatedAt time.Time `json:"updated_at"`
}

// errNoUser is returned by the database for an unknown id.
var errNoUser = errors.New("user not found")

// DB is the demo's SQLite database.
type DB struct{ sql *sql.DB }

// openDB opens (creating if needed) the SQLite file at path, in WAL mode so
// that two demo instances can share it, and seeds users 1, 2 and 3 on first
// run.
func openDB(ctx context.Context, path string) (*DB, error) {
	dsn := "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)"
	s, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db := &DB{sql: s}
	if err := db.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) migrate(ctx context.Context) error {
	_, err := db.sql.ExecContext(ctx, `
CREATE TABLE IF NOT EXISTS users (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	email      TEXT NOT NULL,
	visits     INTEGER NOT NULL DEFAULT 0,
	updated_at TEXT NOT NULL
);
`)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	_, err = db.sql.ExecContext(ctx, `
INSERT OR IGNORE INTO users (id, name, email, updated_at) VALUES
	(1, 'Ada Lovelace', 'ada@example.com', ?),
	(2, 'Alan Turing', 'alan@example.com', ?),
	(3, 'Grace Hopper', 'grace@example.com', ?)`, now, now, now)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	return nil
}

// Close closes the database.
func (db *DB) Close() error { return db.sql.Close() }

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.sql.PingContext(ctx) }

// User returns the user with id, or errNoUser.
func (db *DB) User(ctx context.Context, id int64) (User, error) {
	var u User
	var updated string
	err := db.sql.QueryRowContext(ctx,
		`SELECT id, name, email, visits, updated_at FROM users WHERE id = ?`, id).
		Scan(&u.ID, &u.Name, &u.Email, &u.Visits, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, errNoUser
	}
	if err != nil {
		return User{}, fmt.Errorf("select user %d: %w", id, err)
	}
	u.UpdatedAt, _ = time.Parse(time.RFC3339Nano, updated)
	return u, nil
}

// CreateUser inserts a user and returns it with its new id.
func (db *DB) CreateUser(ctx context.Context, name, email string) (User, error) {
	now := time.Now().UTC()
	res, err := db.sql.ExecContext(ctx,
		`INSERT INTO users (name, email, updated_at) VALUES (?, ?, ?)`, name, email, now.Format(time.RFC3339Nano))
	if err != nil {
		return User{}, fmt.Errorf("insert user: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return User{}, fmt.Errorf("insert user: %w", err)
	}
	return User{ID: id, Name: name, Email: email, UpdatedAt: now}, nil
}

// UpdateUser changes a user's name and email and returns the new row.
func (db *DB) UpdateUser(ctx context.Context, id int64, name, email string) (User, error) {
	now := time.Now().UTC()
	res, err := db.sql.ExecContext(ctx,
		`UPDATE users SET name = ?, email = ?, updated_at = ? WHERE id = ?`, name, email, now.Format(time.RFC3339Nano), id)
	if err != nil {
		return User{}, fmt.Errorf("update user %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return User{}, errNoUser
	}
	return db.User(ctx, id)
}

// SetVisitsAtLeast raises a user's visit count to n; a smaller n (an older
// or repeated write) changes nothing.
func (db *DB) SetVisitsAtLeast(ctx context.Context, id, n int64) error {
	res, err := db.sql.ExecContext(ctx,
		`UPDATE users SET visits = MAX(visits, ?), updated_at = ? WHERE id = ?`,
		n, time.Now().UTC().Format(time.RFC3339Nano), id)
	if err != nil {
		return fmt.Errorf("set visits of %d: %w", id, err)
	}
	if k, _ := res.RowsAffected(); k == 0 {
		return errNoUser
	}
	return nil
}
