package transform

import (
	"slices"
	"strconv"
	"strings"
)

// maxNameLen is hopsworks_common constants.FEATURES.MAX_LENGTH_NAME.
const maxNameLen = 63

// OutputNames is hsfs TransformationFunction._get_output_column_names
// (python/hsfs/transformation_function.py), followed by the prefix that
// HopsworksUdf.output_column_names prepends (python/hsfs/hopsworks_udf.py):
//
//   - one output, the function named like one of its (unprefixed) input
//     features, and that feature not dropped: the function's name;
//   - model-dependent: "{fn}_{prefixed features joined by _}_", with
//     "{i}" appended per output when there are several;
//   - on-demand: "{fn}" for one output, "{fn}_{i}" for several;
//   - names over 63 characters are cut: a single one to 63, several to
//     63-(n+1) characters plus "_{i}".
func OutputNames(fn string, features []string, prefix string, dropped []string, outputs int, onDemand bool) []string {
	var names []string
	prefixed := make([]string, len(features))
	for i, f := range features {
		prefixed[i] = prefix + f
	}
	droppedP := make([]string, len(dropped))
	for i, d := range dropped {
		droppedP[i] = prefix + d
	}
	if outputs == 1 && slices.Contains(features, fn) && (len(dropped) == 0 || !slices.Contains(droppedP, fn)) {
		names = []string{fn}
	} else {
		base := fn
		if onDemand {
			if outputs > 1 {
				base += "_"
			}
		} else {
			base = fn + "_" + strings.Join(prefixed, "_") + "_"
		}
		if outputs > 1 {
			for i := range outputs {
				names = append(names, base+strconv.Itoa(i))
			}
		} else {
			names = []string{base}
		}
	}
	long := false
	for _, n := range names {
		long = long || len(n) > maxNameLen
	}
	if long {
		if len(names) > 1 {
			for i, n := range names {
				if len(n) > maxNameLen {
					names[i] = n[:maxNameLen-(len(names)+1)] + "_" + strconv.Itoa(i)
				}
			}
		} else {
			names = []string{names[0][:maxNameLen]}
		}
	}
	return withPrefix(prefix, names)
}

func withPrefix(prefix string, names []string) []string {
	if prefix == "" {
		return names
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}
