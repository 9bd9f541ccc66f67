// Intentionally small: the header carries the inline accessors; this file makes CEpoll a real target.
#include "CEpoll.h"
