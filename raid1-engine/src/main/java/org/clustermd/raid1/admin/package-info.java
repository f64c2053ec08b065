/**
 * Administrative operations on legs that need no running array: {@link
 * org.clustermd.raid1.admin.ArrayCreator} ({@code mdadm --create}) and {@link
 * org.clustermd.raid1.admin.Examiner} ({@code mdadm --examine} / {@code --examine-bitmap}),
 * whose {@link org.clustermd.raid1.admin.ExamineReport} a CLI prints as text or JSON with md's
 * field names. mdadm 4.2 is the oracle of the tests.
 */
package org.clustermd.raid1.admin;
