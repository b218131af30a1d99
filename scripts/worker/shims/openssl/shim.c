/* empty: the code is in the Debian system library */
