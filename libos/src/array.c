/*
 * array.c - the growable array (see array.h).
 */
#include "os/array.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int os_array_reserve(os_array *a, size_t extra)
{
    if (extra <= a->capacity - a->count)
        return 0;
    size_t want = a->capacity ? a->capacity : 16;
    while (want - a->count < extra) {
        if (want > SIZE_MAX / 2)
            return -1;
        want *= 2;
    }
    if (want > SIZE_MAX / a->item_size)
        return -1;
    void *items = realloc(a->items, want * a->item_size);
    if (!items)
        return -1;
    a->items = items;
    a->capacity = want;
    return 0;
}

void *os_array_append(os_array *a, const void *items, size_t n)
{
    /* At least one item's room, so that the result is never NULL. */
    if (os_array_reserve(a, n ? n : 1) != 0)
        return NULL;
    unsigned char *at = (unsigned char *)a->items + a->count * a->item_size;
    if (items && n)
        memcpy(at, items, n * a->item_size);
    else if (n)
        memset(at, 0, n * a->item_size);
    a->count += n;
    return at;
}

void *os_array_push(os_array *a)
{
    return os_array_append(a, NULL, 1);
}

void os_array_remove(os_array *a, size_t i)
{
    assert(i < a->count);
    unsigned char *at = (unsigned char *)a->items + i * a->item_size;
    memmove(at, at + a->item_size, (a->count - i - 1) * a->item_size);
    a->count--;
}

void os_array_free(os_array *a)
{
    free(a->items);
    a->items = NULL;
    a->count = a->capacity = 0;
}
