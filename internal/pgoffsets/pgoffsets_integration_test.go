package pgoffsets_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/footfall/footfall/internal/pgoffsets"
	"github.com/footfall/footfall/internal/testenv"
)

const group = "footfall-test"

func part(topic string, n int32) pgoffsets.Partition {
	return pgoffsets.Partition{Topic: topic, Partition: n}
}

// Lock adds a row at 0 for a partition seen for the first time and returns
// the stored offsets of the others; a later Save moves them forward only,
// and Next reads them back per topic.
func TestLockSaveNext(t *testing.T) {
	pool := testenv.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pgoffsets.Save(ctx, pool, group, map[pgoffsets.Partition]int64{part("search", 1): 42}); err != nil {
		t.Fatal(err)
	}
	// Another group's rows are neither read nor locked nor moved.
	if err := pgoffsets.Save(ctx, pool, "other", map[pgoffsets.Partition]int64{part("search", 0): 99}); err != nil {
		t.Fatal(err)
	}

	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		got, err := pgoffsets.Lock(ctx, tx, group, []pgoffsets.Partition{part("search", 1), part("click", 0), part("search", 0)})
		if err != nil {
			return err
		}
		want := map[pgoffsets.Partition]int64{part("click", 0): 0, part("search", 0): 0, part("search", 1): 42}
		if !maps.Equal(got, want) {
			t.Errorf("Lock = %v, want %v", got, want)
		}
		return pgoffsets.Save(ctx, tx, group, map[pgoffsets.Partition]int64{
			part("click", 0): 3, part("search", 0): 8, part("search", 1): 40, // 40: behind the stored 42
		})
	})
	if err != nil {
		t.Fatal(err)
	}

	for topic, want := range map[string]map[int32]int64{
		"search":  {0: 8, 1: 42},
		"click":   {0: 3},
		"unknown": {},
	} {
		got, err := pgoffsets.Next(ctx, pool, group, topic)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got, want) {
			t.Errorf("Next(%s) = %v, want %v", topic, got, want)
		}
	}
	if got, err := pgoffsets.Next(ctx, pool, "other", "search"); err != nil || !maps.Equal(got, map[int32]int64{0: 99}) {
		t.Errorf("the other group's offsets: %v, %v; want map[0:99]", got, err)
	}
}

// Two transactions that lock one partition (two members holding it during
// a rebalance) run one after the other: the second waits for the first to
// commit, then reads the offset the first saved. That holds for a
// partition's first batch too, before it has a row.
func TestLockSerializesTransactions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stored map[pgoffsets.Partition]int64
	}{
		{"partition with a stored offset", map[pgoffsets.Partition]int64{part("search", 0): 5}},
		{"partition seen for the first time", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := goleak.IgnoreCurrent()
			t.Cleanup(func() { goleak.VerifyNone(t, before) })
			pool := testenv.Postgres(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if tc.stored != nil {
				if err := pgoffsets.Save(ctx, pool, group, tc.stored); err != nil {
					t.Fatal(err)
				}
			}
			parts := []pgoffsets.Partition{part("search", 0)}

			first, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = first.Rollback(context.Background()) }() // a no-op once committed
			if _, err := pgoffsets.Lock(ctx, first, group, parts); err != nil {
				t.Fatal(err)
			}
			var firstPID int32
			if err := first.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&firstPID); err != nil {
				t.Fatal(err)
			}

			type result struct {
				offsets map[pgoffsets.Partition]int64
				err     error
			}
			secondPID, second, done := make(chan int32, 1), make(chan result, 1), make(chan struct{})
			go func() {
				defer close(done)
				var r result
				r.err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					var pid int32
					if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
						return err
					}
					secondPID <- pid
					var err error
					r.offsets, err = pgoffsets.Lock(ctx, tx, group, parts)
					return err
				})
				second <- r
			}()
			// On a failure below, ending ctx and the first transaction
			// (deferred above) stops the second; wait for it.
			defer func() {
				cancel()
				_ = first.Rollback(context.Background())
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Error("the second transaction did not end")
				}
			}()

			var pid int32
			select {
			case pid = <-secondPID:
			case r := <-second:
				t.Fatalf("second transaction ended before locking: %v", r.err)
			case <-ctx.Done():
				t.Fatal("second transaction did not start")
			}
			testenv.Eventually(t, 10*time.Second, func() (bool, string) {
				var blocked bool
				err := pool.QueryRow(ctx, `SELECT $2 = ANY(pg_blocking_pids($1))`, pid, firstPID).Scan(&blocked)
				return err == nil && blocked, fmt.Sprintf("second transaction not waiting on the first (err %v)", err)
			})
			select {
			case r := <-second:
				t.Fatalf("second Lock returned %v, %v while the first transaction held the row", r.offsets, r.err)
			default:
			}

			if err := pgoffsets.Save(ctx, first, group, map[pgoffsets.Partition]int64{parts[0]: 9}); err != nil {
				t.Fatal(err)
			}
			if err := first.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			select {
			case r := <-second:
				if r.err != nil {
					t.Fatalf("second transaction: %v", r.err)
				}
				if want := map[pgoffsets.Partition]int64{parts[0]: 9}; !maps.Equal(r.offsets, want) {
					t.Errorf("second Lock = %v after the first committed, want %v", r.offsets, want)
				}
			case <-ctx.Done():
				t.Fatal("second Lock still waiting after the first transaction committed")
			}
		})
	}
}
