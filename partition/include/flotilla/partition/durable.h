// Moved to the datasets library (its writers and generators need the same temporary names):
// see flotilla/datasets/durable.h.
#pragma once

#include "flotilla/datasets/durable.h"
