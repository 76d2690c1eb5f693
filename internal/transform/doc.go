// Package transform computes Hopsworks transformation functions in Go,
// column-wise: the model-dependent built-ins of hsfs
// (python/hsfs/builtin_transformations.py in logicalclocks/hopsworks-api),
// custom functions a service registers, and on-demand functions, in the
// order of hsfs's execution graph (python/hsfs/core/vector_server.py,
// python/hsfs/core/transformation_function_engine.py,
// python/hsfs/core/transformation_execution_dag.py).
//
// A [Program] is compiled once per serving plan from the view's features,
// its transformation functions and the training dataset's statistics; it is
// immutable and safe for concurrent use. Running it over one vector or a
// batch allocates only the output (one slab of values and one slab for the
// numbers it boxes), never per entity.
//
// # Errors
//
// Compile fails with ErrUnknownFunction (a function no built-in and no
// registered implementation covers) or ErrArity; running fails with
// ErrType when an input is not of a type the function takes, and with a
// *MissingError when on-demand inputs are absent.
//
// # Concurrency
//
// A Program is read-only after Compile; Run and RunBatch may be called from
// any number of goroutines.
package transform
