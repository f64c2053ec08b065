/**
 * Test fixtures other modules reuse through the bitmap test-jar: an in-memory storage with
 * fault and blocking hooks, a storage that records every write and flush so a test can cut
 * power after any of them, and a manual clock.
 */
package org.clustermd.bitmap.testing;
