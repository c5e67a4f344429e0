"""The mastery threshold, in a module of its own: course files and the student widgets read
it without importing the models (scikit-learn alone takes seconds to import)."""

#: P(known) at or above which a skill counts as mastered (Corbett & Anderson 1995); a course
#: file or the course settings may set another.
MASTERY_THRESHOLD = 0.95
