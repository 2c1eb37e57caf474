/* version history and licence (to be written) */
