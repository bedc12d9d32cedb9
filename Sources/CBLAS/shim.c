// SwiftPM needs one C source in a C target; the target exists only to expose CBLAS.h.
#include "CBLAS.h"
