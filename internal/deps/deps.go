// Package deps pins the module's dependencies while the packages that use
// them are being written. Delete it once every import below is used elsewhere.
package deps

import (
	_ "github.com/apache/arrow-go/v18/arrow/flight"
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/hashicorp/go-retryablehttp"
	_ "github.com/hashicorp/golang-lru/v2/expirable"
	_ "go.opentelemetry.io/otel"
	_ "go.opentelemetry.io/otel/metric"
	_ "go.opentelemetry.io/otel/sdk/metric"
	_ "go.opentelemetry.io/otel/sdk/trace"
	_ "go.opentelemetry.io/otel/trace"
	_ "go.uber.org/goleak"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/sync/singleflight"
	_ "google.golang.org/grpc"
)
