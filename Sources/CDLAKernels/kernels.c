#include "CDLAKernels.h"
