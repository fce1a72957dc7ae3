// Saving a Blob from the page as a file download.

/** Saves `blob` under `fileName` through a temporary object URL. */
export function saveBlob(blob: Blob, fileName: string): void {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = fileName;
  link.click();
  // The browser reads the URL after click() returns, so it is revoked later.
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}
