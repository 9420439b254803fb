/*
 * array.h - the one growable array: items of one size, side by side,
 * growing by doubling.
 *
 *     os_array dirs = OS_ARRAY_INIT(watched);
 *     watched *d = os_array_push(&dirs);      // a new zeroed item, or NULL
 *     for (size_t i = 0; i < dirs.count; i++)
 *         use(OS_ARRAY_AT(&dirs, watched, i));
 *     os_array_free(&dirs);
 *
 * Pointers into the array are good until the next call that adds items.
 */
#ifndef OS_ARRAY_H
#define OS_ARRAY_H

#include <stddef.h>

typedef struct os_array {
    void *items;
    size_t count;     /* items in use */
    size_t capacity;  /* items allocated */
    size_t item_size; /* bytes per item */
} os_array;

#define OS_ARRAY_INIT(type)                                                    \
    {                                                                          \
        NULL, 0, 0, sizeof(type)                                               \
    }
/* Item i (unchecked) as a `type` lvalue. */
#define OS_ARRAY_AT(array, type, i) (((type *)(array)->items)[i])

/* Room for `extra` more items without moving: 0, or -1 when out of memory. */
int os_array_reserve(os_array *a, size_t extra);

/* Append n items copied from `items` (n zeroed items when NULL); the first
 * of them, or NULL when out of memory (the array is as it was).  `items`
 * must not point into the array itself: growing may move it. */
void *os_array_append(os_array *a, const void *items, size_t n);

/* Append one zeroed item: os_array_append(a, NULL, 1). */
void *os_array_push(os_array *a);

/* Remove item i (i < count), keeping the order of the others. */
void os_array_remove(os_array *a, size_t i);

/* Free the items; the array is empty and usable again. */
void os_array_free(os_array *a);

#endif /* OS_ARRAY_H */
