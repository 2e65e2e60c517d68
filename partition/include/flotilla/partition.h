// Public header of the partition library.
#pragma once

#include "flotilla/partition/assignment.h"
#include "flotilla/partition/durable.h"
#include "flotilla/partition/partition_book.h"
#include "flotilla/partition/partitioner.h"
#include "flotilla/partition/shard.h"
