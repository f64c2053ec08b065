/**
 * Side-by-side figures against the reference peers, printed as JSON lines.
 */
package org.clustermd.bench;
