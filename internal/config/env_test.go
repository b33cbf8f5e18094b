package config

import (
	"flag"
	"testing"
)

func TestParseEnvFallbackAndFlagWins(t *testing.T) {
	t.Setenv("FOOTFALL_HTTP_ADDR", "0.0.0.0:9999")
	t.Setenv("FOOTFALL_KAFKA_BROKERS", "a:1, b:2")
	t.Setenv("FOOTFALL_BATCH_SIZE", "7")

	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	addr := fs.String("http-addr", "127.0.0.1:8080", "")
	size := fs.Int("batch-size", 100, "")
	brokers := StringList{"127.0.0.1:9092"}
	fs.Var(&brokers, "kafka-brokers", "")

	if err := Parse(fs, []string{"-batch-size=9"}); err != nil {
		t.Fatal(err)
	}
	if *addr != "0.0.0.0:9999" {
		t.Errorf("http-addr = %q, want the environment's value", *addr)
	}
	if *size != 9 {
		t.Errorf("batch-size = %d, want the flag's 9 over the environment's 7", *size)
	}
	if got := brokers.String(); got != "a:1,b:2" {
		t.Errorf("kafka-brokers = %q", got)
	}
}

func TestParseBadEnvironmentValue(t *testing.T) {
	t.Setenv("FOOTFALL_BATCH_SIZE", "many")
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Int("batch-size", 100, "")
	if err := Parse(fs, nil); err == nil {
		t.Fatal("want an error naming FOOTFALL_BATCH_SIZE")
	}
}
