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

// bareGin is the ceiling of the collector's one-event requests and of the
// promotions lookup, in a process of its own (`benchload bare-gin`): gin
// handlers on the same routes that read a POST's body and discard it,
// answering as the collector does, or answer a GET with a fixed lookup
// answer. Whatever the service adds (decoding, validation, stamping,
// Kafka; finding the visitor's promotions) is the distance between them.
func bareGin(args []string) error {
	fs := flag.NewFlagSet("benchload bare-gin", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:18290", "listen address")
	answer := fs.String("answer", `{"accepted":1}`, "the JSON GET /v1/promotions answers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	body := []byte(*answer)
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/v1/batch", func(c *gin.Context) {
		if _, err := io.Copy(io.Discard, c.Request.Body); err != nil {
			c.AbortWithStatus(http.StatusBadRequest)
			return
		}
		c.JSON(http.StatusOK, gin.H{"accepted": 1})
	})
	r.GET("/v1/promotions", func(c *gin.Context) { c.Data(http.StatusOK, "application/json; charset=utf-8", body) })
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
