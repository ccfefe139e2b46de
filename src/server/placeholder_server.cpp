// placeholder translation unit so the layer library is never empty.
