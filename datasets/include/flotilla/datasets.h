// Public header of the datasets library: graph, feature and traffic readers, the streaming
// edge reader used by the partitioner, the CSR graph type and the data generators.
#pragma once

#include "flotilla/datasets/atomic_output.h"
#include "flotilla/datasets/csr.h"
#include "flotilla/datasets/durable.h"
#include "flotilla/datasets/edge_stream.h"
#include "flotilla/datasets/error.h"
#include "flotilla/datasets/generators.h"
#include "flotilla/datasets/graph_io.h"
#include "flotilla/datasets/json_writer.h"
#include "flotilla/datasets/npy.h"
#include "flotilla/datasets/ogb.h"
#include "flotilla/datasets/progress.h"
#include "flotilla/datasets/random.h"
#include "flotilla/datasets/traffic.h"
#include "flotilla/datasets/types.h"
