/**
 * Per-node write-intent bitmaps in md's clustered on-disk format.
 */
package org.clustermd.bitmap;
