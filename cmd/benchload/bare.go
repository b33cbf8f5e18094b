package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
)

// bareGin is the collector's ceiling for one-event requests: a gin
// handler on the same route that reads the body, discards it and answers
// as the collector does, in a process of its own (`benchload bare-gin`).
// Whatever the collector adds (decoding, validation, stamping, Kafka) is
// the distance between the two.
func bareGin(args []string) error {
	fs := flag.NewFlagSet("benchload bare-gin", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:18290", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/v1/batch", func(c *gin.Context) {
		if _, err := io.Copy(io.Discard, c.Request.Body); err != nil {
			c.AbortWithStatus(http.StatusBadRequest)
			return
		}
		c.JSON(http.StatusOK, gin.H{"accepted": 1})
	})
	r.GET("/readyz", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	srv := &http.Server{Addr: *addr, Handler: r, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
