// Public header of the partition library.
#pragma once

#include "flotilla/partition/partition_book.h"
