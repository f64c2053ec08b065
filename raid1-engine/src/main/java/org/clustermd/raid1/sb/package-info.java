/**
 * md v1.2 metadata on each leg: {@link org.clustermd.raid1.sb.Superblock} (struct
 * mdp_superblock_1 as a value), {@link org.clustermd.raid1.sb.SuperblockCodec} (byte layout,
 * calc_sb_1_csum, read/write on a {@link org.clustermd.raid1.io.BlockDevice}), validation that
 * fails with {@link org.clustermd.raid1.sb.SuperblockFormatException} naming the leg and the field,
 * and {@link org.clustermd.raid1.sb.DiskLayout}, which places the superblock, the clustered
 * bitmap's per-node slots and the data area exactly where mdadm and the kernel look for them.
 * mdadm 4.2 ({@code --examine}, {@code --examine-bitmap}) is the oracle of the tests.
 *
 * <p>The bitmap superblock and bits belong to the bitmap module; this package only reserves and
 * locates their area.
 */
package org.clustermd.raid1.sb;
