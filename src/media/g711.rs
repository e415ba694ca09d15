//! G.711 µ-law and A-law (ITU-T G.711): encode, decode and direct
//! PCMU↔PCMA translation by lookup tables.
