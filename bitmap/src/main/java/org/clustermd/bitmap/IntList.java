package org.clustermd.bitmap;

import java.util.Arrays;

/** A growable list of ints. Not thread-safe. */
final class IntList {
    private int[] values = new int[16];
    private int size;

    void add(int v) {
        if (size == values.length) values = Arrays.copyOf(values, size * 2);
        values[size++] = v;
    }

    void addAll(int[] vs) {
        for (int v : vs) add(v);
    }

    boolean contains(int v) {
        for (int i = 0; i < size; i++) if (values[i] == v) return true;
        return false;
    }

    int size() {
        return size;
    }

    /** Returns the contents and empties the list. */
    int[] drain() {
        int[] out = Arrays.copyOf(values, size);
        size = 0;
        return out;
    }
}
