package org.clustermd.raid1;

/**
 * A leg assembly left out, and why (md's "kicking non-fresh sdb1 from array!").
 *
 * <p>Immutable; thread-safe.
 *
 * @param name the leg's name (path)
 * @param reason what disqualified it, naming the field (events, dev_roles, set_uuid, ...)
 */
public record KickedLeg(String name, String reason) {}
