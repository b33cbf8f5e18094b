package privacy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/footfall/footfall/internal/event"
	"github.com/footfall/footfall/internal/kafka"
	"github.com/footfall/footfall/internal/testenv"
	"github.com/footfall/footfall/privacy"
)

// TestIntegrationFollow: a set is ready once it has read what the topic
// held when it started, a lifted id is not in it, and it leaves no
// goroutine behind once closed.
func TestIntegrationFollow(t *testing.T) {
	kc := testenv.Kafka(t)
	producer := testenv.Producer(t, kc, "footfall-privacy-test")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	first := privacy.Follow(kc, testenv.Log(t))
	f := privacy.New(privacy.DefaultOptions(), privacy.Deps{Kafka: kc, Publisher: producer, Suppressions: first, Log: testenv.Log(t)})
	if n, err := f.Lift(ctx, "shop", "user-z"); err != nil || n != 1 {
		t.Fatalf("lift: %d, %v", n, err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	defer goleak.VerifyNone(t, goleak.IgnoreCurrent()) // the producer's stay until the test ends
	second := privacy.Follow(kc, testenv.Log(t))
	if err := second.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if second.Len() != 0 || second.Suppressed("shop", "", "user-z") {
		t.Errorf("a lifted id is suppressed: %d ids", second.Len())
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationCurrent: once Current returns, the set holds every
// suppression published before it was called, without waiting for the
// set to catch up in its own time. The loader and the enricher call it
// before each batch; the forget's wait for their offsets rests on it.
func TestIntegrationCurrent(t *testing.T) {
	kc := testenv.Kafka(t)
	producer := testenv.Producer(t, kc, "footfall-privacy-test")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	set := privacy.Follow(kc, testenv.Log(t))
	defer func() { _ = set.Close() }()
	if err := set.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		sup := privacy.Suppression{Site: "shop", ID: fmt.Sprint("anon-", i, "-", testenv.UUID()), Kind: privacy.KindAnonymous, ForgottenAt: time.Now().UTC()}
		v, err := json.Marshal(sup)
		if err != nil {
			t.Fatal(err)
		}
		rec := kafka.Record{Topic: event.SuppressionsTopic(kc.TopicPrefix), Key: []byte(sup.Key()), Value: v}
		if err := producer.Publish(ctx, []kafka.Record{rec}); err != nil {
			t.Fatal(err)
		}
		if err := set.Current(ctx); err != nil {
			t.Fatal(err)
		}
		if !set.Suppressed("shop", sup.ID, "") {
			t.Fatalf("suppression %d: published before Current, not in the set after it", i)
		}
	}
}
