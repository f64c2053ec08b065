/**
 * Helpers every module's tests share, at test scope, after Curator's {@code curator-test}:
 * {@link org.clustermd.testkit.Timing} (every wait, scaled by the {@code clustermd.timing.scale}
 * system property), {@link org.clustermd.testkit.Tools} (the Debian tools the tests drive, and
 * the install line when one is missing), {@link org.clustermd.testkit.Mdadm} (mdadm's
 * {@code --examine} and {@code --examine-bitmap} output, parsed once) and
 * {@link org.clustermd.testkit.LoopDevice} (a loop device over a backing file, detached on close).
 *
 * <p>Nothing here knows a clustermd class: the module depends on no other module of the
 * project, so that each of them can depend on it.
 */
package org.clustermd.testkit;
